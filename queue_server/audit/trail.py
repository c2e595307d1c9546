"""Who did what, when, from where: taken at the HTTP boundary, where every staff, manager and admin
action passes with its token, route, client and answer — queue and window actions, catalog, point,
device and calendar changes, tokens — and written to PostgreSQL in batches by a supervised writer,
so an action costs an append to a list and nothing more on its way.

Stream events were looked at first: they carry the ticket and the window's staff on duty, not the
token that acted nor where it acted from, and most admin changes never pass through a stream; one
capture point for all of them is the one way. What a crash loses: the entries of the last flush
interval (``QUEUE_AUDIT_FLUSH_S``, 0.25 s) not yet written; PostgreSQL away: they wait in memory
(up to ``max_pending``; past it new entries are counted as dropped and logged) and go in when it is back."""
from __future__ import annotations

import asyncio
import getpass
import logging
import socket
import uuid
from collections import deque
from itertools import islice
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..api.auth import bearer
from ..clock import Clock, SystemClock, from_ms
from ..domain.numbering import center_of
from ..record.json_rows import ROWS, rows
from ..record.people import Principal, token_hash

log = logging.getLogger("queue_server.audit")

UNAUDITED_ROLES = {"device"}   # kiosks and screens act for residents, not as staff
_AUDITED_READS = (".csv", "/api/v1/audit")   # exports and the log itself: who looked is audited too
_AGENT_MAX = 300
_TEXT_MAX = 200   # a route or parameter as long as a URL may be is cut: a token cannot fill the log


class Entry(NamedTuple):
    """One audited action (a tuple: one is made for most requests, and a frozen dataclass's
    ``__init__`` cost more than the rest of the entry)."""
    entry_id: uuid.UUID
    at: datetime
    role: str
    actor: str
    credential: str | None
    center: str | None
    window: str | None
    action: str
    target: dict[str, str]
    outcome: int
    address: str | None
    user_agent: str | None


def actor_of(who: Principal) -> str:
    """The person behind a token, as far as the token says: its account, else its staff id, else its
    label, else its role."""
    return who.user or who.staff_id or who.label or who.role


def audited(method: str, path: str) -> bool:
    return method not in ("GET", "HEAD", "OPTIONS") or path.endswith(_AUDITED_READS[0]) or path.startswith(_AUDITED_READS[1])


def entry_for(scope: Scope, who: Principal, status: int, now_ms: int) -> Entry:
    """The audit entry of one answered request (``scope`` after routing: its route and parameters)."""
    params = {k: str(v)[:_TEXT_MAX] for k, v in (scope.get("path_params") or {}).items()}
    route = (getattr(scope.get("route"), "path", None) or scope.get("path", ""))[:_TEXT_MAX]
    if "action" in params:   # /api/v1/tickets/{id}/{action}: the verb is the action's name
        route = route.replace("{action}", params["action"])
    ticket = params.get("ticket_id") or params.get("id") if "ticket" in route else None
    center = params.get("center") or (center_of(ticket) if ticket else None) or who.center
    digest = scope["state"].get("token_hash")
    if digest is None and (token := bearer(HTTPConnection(scope))):
        digest = token_hash(token)
    agent = next((value for name, value in scope["headers"] if name == b"user-agent"), b"")
    client = scope.get("client")
    return Entry(uuid.uuid4(), from_ms(now_ms), who.role, actor_of(who), digest[:12] if digest else None,
                 center, who.window, f"{scope['method']} {route}", params, status, client[0] if client else None,
                 agent[:_AGENT_MAX].decode("latin-1") or None)


_INSERT = ("INSERT INTO audit_log (entry_id, at, role, actor, credential, center, window_code, action, target, outcome,"
           " address, user_agent) SELECT (e->>0)::uuid, (e->>1)::timestamptz, e->>2, e->>3, e->>4, e->>5, e->>6, e->>7,"
           f" e->8, (e->>9)::smallint, e->>10, e->>11 FROM {ROWS} ON CONFLICT (entry_id) DO NOTHING")


async def append(conn: asyncpg.Connection | asyncpg.Pool, entries: list[Entry]) -> None:
    """Write entries in one statement (json_rows.py), in order; repeating it adds nothing (``entry_id``)."""
    if entries:
        await conn.execute(_INSERT, rows(tuple(e) for e in entries))   # an Entry is not a plain tuple to orjson


@dataclass
class AuditLog:
    """The process's pending entries and their writer."""
    pool: asyncpg.Pool
    clock: Clock
    flush_s: float = 0.25
    max_pending: int = 200_000
    pending: deque[Entry] = field(default_factory=deque)
    written: int = 0
    dropped: int = 0
    _writing: asyncio.Lock = field(default_factory=asyncio.Lock)

    def add(self, entry: Entry) -> None:
        if len(self.pending) >= self.max_pending:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.error("audit entries waiting for PostgreSQL over %d: %d dropped", self.max_pending, self.dropped)
            return
        self.pending.append(entry)

    async def flush(self, batch: int = 1000) -> int:
        """Write what is pending, a batch at a time, one flush at a time; an entry leaves ``pending``
        only once written, so a failure keeps it for the next try."""
        done = 0
        async with self._writing:
            while self.pending:
                taken = list(islice(self.pending, batch))
                await append(self.pool, taken)
                for _ in taken:
                    self.pending.popleft()
                done += len(taken)
                self.written += len(taken)
        return done

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every ``flush_s`` until ``stop``; a failure ends the run for the supervisor to restart
        it after a backoff, the entries kept."""
        while not stop.is_set():
            await self.flush()
            try:
                await asyncio.wait_for(stop.wait(), self.flush_s)
            except asyncio.TimeoutError:
                pass


async def record_command(database_url: str, command: str, params: dict[str, str], outcome: int) -> None:
    """An administrator's command (``queue-server token``, ``user``, ``tokens``, ``import``...) in the
    log: role ``cli``, the operating-system user, this host; outcome 200 done, 400 refused."""
    conn = await asyncpg.connect(database_url)
    try:
        await append(conn, [Entry(uuid.uuid4(), from_ms(SystemClock().now_ms()), "cli", getpass.getuser(), None,
                                  params.get("center"), params.get("window"), f"queue-server {command}", params, outcome,
                                  socket.gethostname(), "queue-server cli")])
    finally:
        await conn.close()


class AuditTrail:
    """ASGI middleware: after each audited request answered to a principal that is audited, one
    entry for the log. The principal is what ``api.auth.principal`` left on the request's state."""

    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app, self.audit = app, audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not audited(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        status = {"code": 500}

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            who: Any = scope["state"].get("principal") or await self._token_of(scope)
            if isinstance(who, Principal) and who.role not in UNAUDITED_ROLES:
                self.audit.add(entry_for(scope, who, status["code"], self.audit.clock.now_ms()))

    @staticmethod
    async def _token_of(scope: Scope) -> Principal | None:
        """Who sent a request refused before its handler looked at the token (an unknown window, a
        malformed body): the token cache knows, after the answer has gone."""
        token = bearer(HTTPConnection(scope))
        if token is None or len(token) > 200:
            return None
        try:
            return await scope["app"].state.tokens.resolve(token)
        except Exception:   # an unknown token with PostgreSQL away: nobody to name
            return None
