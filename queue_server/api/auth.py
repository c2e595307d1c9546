"""Bearer tokens: the district admin token from the environment, and center-scoped manager, staff
and device tokens from PostgreSQL, cached so the hot path costs no query. A valid token is kept for
ten minutes, but every process asks PostgreSQL for newly revoked tokens every few seconds (one
query, not one per token), so a revocation takes effect within that."""
from __future__ import annotations

import hmac
import random
import time
from datetime import datetime

from starlette.requests import HTTPConnection

from ..record.people import Principal, find_token, revoked_since, token_hash, valid_tokens
from .problems import Problem

ADMIN = Principal("admin")
_VALID_S = 600.0          # a known token's principal
_UNKNOWN_S = 30.0         # "no such token"
_REVOCATIONS_S = 5.0      # how often revocations are looked for
_MAX_ENTRIES = 200_000


class TokenCache:
    def __init__(self, pool, admin_token: str | None) -> None:  # type: ignore[no-untyped-def]
        self._pool = pool
        self._admin = admin_token
        self._cache: dict[str, tuple[float, Principal | None]] = {}   # by token hash
        self._revoked_after: datetime | None = None
        self._next_check = 0.0
        self._checking = False

    async def preload(self) -> int:
        """Every valid token, read at start: after a restart in the morning peak every screen and clerk
        comes back at once, and each would otherwise cost a query. Their expiries are spread over the
        second half of the validity so they do not all fall due in the same second."""
        _, self._revoked_after = await revoked_since(self._pool, None)   # revocations from now on are seen
        now = time.monotonic()
        self._next_check = now + _REVOCATIONS_S
        found = await valid_tokens(self._pool)
        if len(found) <= _MAX_ENTRIES:
            for key, who in found.items():
                self._cache[key] = (now + _VALID_S * (0.5 + random.random() / 2), who)
        return len(found)

    async def resolve(self, token: str) -> Principal | None:
        if self._admin and hmac.compare_digest(token, self._admin):
            return ADMIN
        now = time.monotonic()
        if now >= self._next_check and not self._checking:
            await self._forget_revoked(now)
        key = token_hash(token)
        hit = self._cache.get(key)
        if hit and hit[0] > now:
            return hit[1]
        principal = await find_token(self._pool, token)
        if len(self._cache) > _MAX_ENTRIES:
            self._cache.clear()
        self._cache[key] = (now + (_VALID_S if principal else _UNKNOWN_S), principal)
        return principal

    async def _forget_revoked(self, now: float) -> None:
        self._checking = True
        try:
            hashes, self._revoked_after = await revoked_since(self._pool, self._revoked_after)
            for h in hashes:
                self._cache.pop(h, None)
            self._next_check = now + _REVOCATIONS_S
        finally:
            self._checking = False


def bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return conn.query_params.get("token") or None


async def principal(conn: HTTPConnection, required: bool = True) -> Principal | None:
    token = bearer(conn)
    if token is None:
        if required:
            raise Problem(401, "Unauthorized", "a bearer token is required")
        return None
    if len(token) > 200:
        raise Problem(401, "Unauthorized", "the token is not valid")
    found = await conn.app.state.tokens.resolve(token)
    if found is None:
        raise Problem(401, "Unauthorized", "the token is not valid or was revoked")
    return found


def require(who: Principal, center: str, roles: set[str], window: str | None = None, device_kinds: set[str] | None = None) -> None:
    """Refuse unless ``who`` has one of ``roles`` at ``center`` (and, for a window-bound token, that window)."""
    if who.role == "admin":
        return
    if who.role not in roles:
        raise Problem(403, "Forbidden", f"a {who.role} token may not do this")
    if who.center != center:
        raise Problem(403, "Forbidden", "the token belongs to another center")
    if window is not None and who.window is not None and who.window != window:
        raise Problem(403, "Forbidden", "the token belongs to another window")
    if who.role == "device" and device_kinds is not None and who.device_kind not in device_kinds:
        raise Problem(403, "Forbidden", f"a {who.device_kind} device may not do this")
