"""Bearer tokens: the district admin token from the environment, and center-scoped manager, staff
and device tokens from PostgreSQL, cached briefly so the hot path costs no query."""
from __future__ import annotations

import hmac
import time

from starlette.requests import HTTPConnection

from ..record.people import Principal, find_token
from .problems import Problem

ADMIN = Principal("admin")
_CACHE_S = 30.0


class TokenCache:
    def __init__(self, pool, admin_token: str | None) -> None:  # type: ignore[no-untyped-def]
        self._pool = pool
        self._admin = admin_token
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def resolve(self, token: str) -> Principal | None:
        if self._admin and hmac.compare_digest(token, self._admin):
            return ADMIN
        hit = self._cache.get(token)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        principal = await find_token(self._pool, token)
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[token] = (now + _CACHE_S, principal)
        return principal


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
