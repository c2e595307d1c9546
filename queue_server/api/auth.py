"""Bearer tokens: the district admin token from the environment, and manager, staff, auditor, device
and login tokens from PostgreSQL, cached so the hot path costs no query. A valid token is kept for
ten minutes, but a revocation is published to every process at once (accounts/, devices/ call
``forget``), and every process also asks PostgreSQL for newly revoked tokens every few seconds (one
query, not one per token, in the background) in case it missed the message. A token past its
``expires_at`` is refused by the cache itself, to the second.

The queue lives in Redis, so PostgreSQL being away must not stop it: known tokens keep working from
the cache (past their ten minutes if need be; revocations are caught up when the record is back),
and only a token the cache cannot vouch for gets 503 with Retry-After — never 401, never 500."""
from __future__ import annotations

import asyncio
import hmac
import logging
import math
import random
import time
from collections import OrderedDict
from datetime import datetime

from starlette.requests import HTTPConnection

from ..domain.access import Actor, refusal
from ..record.people import Principal, find_token, revoked_since, token_hash, valid_tokens
from .problems import RECORD_AWAY, Problem, Unavailable

log = logging.getLogger("queue_server.api")

ADMIN = Principal("admin")
_VALID_S = 600.0          # a known token's principal
_UNKNOWN_S = 30.0         # "no such token"
_REVOCATIONS_S = 5.0      # how often revocations are looked for
_MAX_KNOWN = 200_000      # tokens that exist: bounded by what was issued, not by what is sent
_MAX_UNKNOWN = 50_000     # "no such token" answers: bounded apart, so a flood of made-up tokens evicts only its own kind
_AWAY_FIRST_S, _AWAY_MAX_S = 0.5, 8.0   # how long PostgreSQL is left alone after a failure, doubling


class _Lru(OrderedDict[str, tuple[float, Principal | None]]):
    """Token hash -> (fresh until, principal), oldest use first; full, it forgets its oldest."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: str, entry: tuple[float, Principal | None]) -> None:
        self[key] = entry
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class RecordAway:
    """Whether PostgreSQL is being left alone after a failure, and until when: one log line when it
    goes and one when it is back, and a doubling pause so a burst of requests is not a burst of
    connection attempts at a database that is down."""

    def __init__(self) -> None:
        self.until = 0.0
        self._pause = 0.0

    def away(self, now: float) -> bool:
        return now < self.until

    def failed(self, now: float, exc: BaseException) -> None:
        if now < self.until:   # another request of the same moment already counted this outage
            return
        if not self._pause:
            log.warning("PostgreSQL is away (%s: %s): serving cached tokens; revocations wait until it is back",
                        type(exc).__name__, exc)
        self._pause = min(_AWAY_MAX_S, max(_AWAY_FIRST_S, self._pause * 2))
        self.until = now + self._pause

    def back(self) -> None:
        if self._pause:
            log.warning("PostgreSQL is back: tokens and revocations are checked again")
        self._pause = self.until = 0.0

    def unavailable(self, now: float) -> Unavailable:
        return Unavailable("PostgreSQL", max(1, math.ceil(self.until - now)))


class TokenCache:
    def __init__(self, pool, admin_token: str | None, max_known: int = _MAX_KNOWN,  # type: ignore[no-untyped-def]
                 max_unknown: int = _MAX_UNKNOWN) -> None:
        self._pool = pool
        self._admin = admin_token
        self._known = _Lru(max_known)        # by token hash
        self._unknown = _Lru(max_unknown)
        self._revoked_after: datetime | None = None
        self._next_check = 0.0
        self._checking: asyncio.Task[None] | None = None
        self.record = RecordAway()

    async def preload(self) -> int:
        """Every valid token, read at start: after a restart in the morning peak every screen and clerk
        comes back at once, and each would otherwise cost a query. Their expiries are spread over the
        second half of the validity so they do not all fall due in the same second."""
        _, self._revoked_after = await revoked_since(self._pool, None)   # revocations from now on are seen
        now = time.monotonic()
        self._next_check = now + _REVOCATIONS_S
        found = await valid_tokens(self._pool)
        for key, who in list(found.items())[:self._known.limit]:
            self._known.put(key, (now + _VALID_S * (0.5 + random.random() / 2), who))
        return len(found)

    async def resolve(self, token: str, digest: str | None = None) -> Principal | None:
        """The token's principal, None for no such (or a revoked) token; ``Unavailable`` when only
        PostgreSQL could say and it is away. ``digest``: the token's hash, when the caller has it."""
        if self._admin and hmac.compare_digest(token.encode(), self._admin.encode()):
            return ADMIN
        now = time.monotonic()
        if now >= self._next_check and self._checking is None:
            self._checking = asyncio.create_task(self._forget_revoked(), name="token revocations")
        key = digest or token_hash(token)
        known = self._known.get(key)
        if known is not None:
            self._known.move_to_end(key)
            if known[1] is not None and known[1].expires_at is not None and known[1].expires_at <= time.time():
                self.forget(key)   # expired: no look-up brings it back
                return None
            if known[0] > now or self.record.away(now):
                return known[1]
        else:
            unknown = self._unknown.get(key)
            if unknown is not None and unknown[0] > now:
                return None
            if self.record.away(now):
                raise self.record.unavailable(now)
        try:
            principal = await find_token(self._pool, token)
        except RECORD_AWAY as exc:   # a look-up may have waited seconds: the outage counts from now
            self.record.failed(time.monotonic(), exc)
            if known is not None:
                return known[1]
            raise self.record.unavailable(time.monotonic()) from None
        self.record.back()
        if principal is None:
            self._known.pop(key, None)
            self._unknown.put(key, (now + _UNKNOWN_S, None))
        else:
            self._unknown.pop(key, None)
            self._known.put(key, (now + _VALID_S, principal))
        return principal

    async def _forget_revoked(self) -> None:
        """One look for revocations, off the request path. While PostgreSQL is away the next look
        waits as long as it is left alone; nothing revoked meanwhile is missed once it is back."""
        now = time.monotonic()
        self._next_check = max(now + _REVOCATIONS_S, self.record.until)
        try:
            if self.record.away(now):
                return
            hashes, self._revoked_after = await revoked_since(self._pool, self._revoked_after)
        except RECORD_AWAY as exc:
            self.record.failed(time.monotonic(), exc)
            self._next_check = self.record.until
            return
        except Exception:  # noqa: BLE001 - a bug here must not end the looks for revocations
            log.exception("looking for revoked tokens failed")
            return
        finally:
            self._checking = None
        self.record.back()
        for h in hashes:
            self._known.pop(h, None)


    def forget(self, digest: str) -> None:
        """A token revoked just now (by any instance: devices/ publishes it) stops working at once."""
        self._known.pop(digest, None)
        self._unknown.put(digest, (time.monotonic() + _UNKNOWN_S, None))


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
    digest = token_hash(token)
    found = await conn.app.state.tokens.resolve(token, digest)
    if found is None:
        raise Problem(401, "Unauthorized", "the token is not valid or was revoked")
    conn.state.principal = found   # for the audit trail (audit/trail.py): who this request acted as, and with what
    conn.state.token_hash = digest  # and for the limiters' buckets: hashed once per request
    return found


def require(who: Principal, center: str, roles: set[str], window: str | None = None, device_kinds: set[str] | None = None,
            point: str | None = None) -> None:
    """Refuse unless ``who`` has one of ``roles`` at ``center`` (and, for a window-bound token, that window;
    a device of a service point may act only where ``point`` is its own)."""
    if who.role == "admin":
        return
    if who.point is not None and who.point != point:
        raise Problem(403, "Forbidden", f"the token belongs to service point {who.point}")
    if who.role not in roles:
        raise Problem(403, "Forbidden", f"a {who.role} token may not do this")
    if who.center != center:
        raise Problem(403, "Forbidden", "the token belongs to another center")
    if window is not None and who.window is not None and who.window != window:
        raise Problem(403, "Forbidden", "the token belongs to another window")
    if who.role == "device" and device_kinds is not None and who.device_kind not in device_kinds:
        raise Problem(403, "Forbidden", f"a {who.device_kind} device may not do this")


def require_queue_action(who: Principal, action: str, center: str, window: str | None = None) -> None:
    """Refuse (403) a queue action the rules of domain/access.py do not allow ``who``."""
    reason = refusal(Actor(who.role, who.center, who.window), action, center, window)
    if reason is not None:
        raise Problem(403, "Forbidden", reason)


async def require_operator(conn: HTTPConnection) -> Principal:
    """An admin or a manager token: what the ops views (persister lag, live sockets) need, since they
    show every center's workings."""
    who = await principal(conn)
    assert who is not None
    if who.role not in ("admin", "manager"):
        raise Problem(403, "Forbidden", f"a {who.role} token may not see the ops views")
    return who
