"""The sessions of this instance and the relay between instances. Each page in a session is a
``Participant``; what one sends is published on the session's Redis channel and every instance hands
it to its own participants of that session (one pattern subscription per instance). A session opens
by one script (``session_open.lua``) whichever instances ask, and ends in the script of what ends it
(the ticket leaving the window, the window pausing or closing, a side hanging up), so each start and
end is one event on the center's stream; every instance closes its own pages of a session when it
sees that event."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from typing import Any

import orjson
from redis.asyncio import Redis
from starlette.websockets import WebSocket

from queue_server.config import Settings
from queue_server.engine.channels import follow
from queue_server.engine.keys import Keys
from queue_server.engine.scripts import Scripts
from queue_server.realtime.events import LiveEvent

from .config import SessionConfig

log = logging.getLogger("queue_server.remote_session")
OUTBOX_MAX = 256            # messages waiting for one page; more and the page is too slow: closed (1013)
ENDS_KEPT_S = 60.0          # how long an end heard is remembered for a page of that session still joining


class Participant:
    """One page in one session: its socket and the queue of what it has yet to be sent, so the relay
    never waits on a slow page."""

    def __init__(self, ws: WebSocket, center: str, window: str, ticket: str, session: str, role: str) -> None:
        self.ws = ws
        self.id = secrets.token_hex(8)
        self.center, self.window, self.ticket, self.session, self.role = center, window, ticket, session, role
        self.outbox: deque[bytes] = deque()
        self.wake = asyncio.Event()
        self.ended: tuple[int, str] | None = None     # close code and reason, once the session is over for it

    def push(self, message: dict[str, Any]) -> None:
        if self.ended is not None:
            return
        if len(self.outbox) >= OUTBOX_MAX:
            self.end(1013, "too slow to follow the session")
            return
        self.outbox.append(orjson.dumps(message))
        self.wake.set()

    def end(self, code: int, reason: str, message: dict[str, Any] | None = None) -> None:
        """Send ``message`` (if any) as the last thing, then close with ``code``."""
        if self.ended is not None:
            return
        if message is not None:
            self.outbox.append(orjson.dumps(message))
        self.ended = (code, reason)
        self.wake.set()

    async def write(self) -> None:
        """Until the session is over for this page: drain the outbox to the socket, then close it."""
        while True:
            while self.outbox:
                await self.ws.send_text(self.outbox.popleft().decode())
            if self.ended is not None:
                code, reason = self.ended
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.ws.close(code, reason), 2.0)
                return
            self.wake.clear()
            await self.wake.wait()


class SessionRelay:
    def __init__(self, redis: Redis, keys: Keys, settings: Settings, config: SessionConfig) -> None:
        self.redis, self.keys, self.settings, self.config = redis, keys, settings, config
        self.scripts = Scripts(redis)
        self.local: dict[str, set[Participant]] = {}
        self.relayed = 0
        self._ends: dict[str, tuple[float, str]] = {}   # session id -> (when heard, reason), oldest first

    # ---- opening and closing, one script each ------------------------------------------------------
    async def open(self, center: str, window: str, ticket: str, point: str, role: str, now_ms: int) -> dict[str, Any]:
        k = self.keys
        raw = await self.scripts["session_open"](
            keys=[k.remote_session(center, window), k.ticket(center, ticket), k.events(center)],
            args=[k.center_base(center), now_ms, self.settings.stream_maxlen, center, window, point, self.config.ttl_s,
                  role])
        return orjson.loads(raw)

    async def close(self, center: str, window: str, ticket: str, reason: str, now_ms: int) -> dict[str, Any]:
        """End the window's session of ``ticket`` (a side hung up); {} when there was none, {kept} when
        the window's session is another ticket's."""
        k = self.keys
        raw = await self.scripts["session_close"](
            keys=[k.remote_session(center, window), k.events(center)],
            args=[k.center_base(center), now_ms, self.settings.stream_maxlen, center, window, ticket, reason])
        return orjson.loads(raw)

    # ---- participants on this instance -------------------------------------------------------------
    def join(self, p: Participant) -> bool:
        """Relay the session's messages to ``p``; False, and ``p`` told and closed, when its session's
        end was heard first. The page's follow of its center is pinned before its session opens, so
        the end is read, but the reader may hand it over in the loop's turn before the page's open
        returns: without this the page would stay in a closed session until its TTL."""
        ended = self._ends.get(p.session)
        if ended is not None:
            p.end(1000, "session closed", {"type": "session.closed", "reason": ended[1]})
            return False
        self.local.setdefault(p.session, set()).add(p)
        return True

    def leave(self, p: Participant) -> None:
        group = self.local.get(p.session)
        if group is not None:
            group.discard(p)
            if not group:
                del self.local[p.session]

    async def publish(self, p: Participant, message: dict[str, Any], to: str | None = None) -> None:
        """To every other page of ``p``'s session (or only peer ``to``), on whichever instance it is."""
        envelope = {"session": p.session, "from": p.id, "role": p.role, "to": to, "message": message}
        await self.redis.publish(self.keys.session_signals(p.center, p.session), orjson.dumps(envelope))

    async def deliver(self, raw: bytes) -> None:
        """One message from a session's channel, to this instance's pages of that session. A page that
        hears a newcomer join answers it with ``peer.present``, so each side learns of the other
        whichever joined first."""
        try:
            env = orjson.loads(raw)
            session, sender, role, to, message = env["session"], env["from"], env["role"], env["to"], env["message"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("a malformed message on a session channel was ignored")
            return
        for q in tuple(self.local.get(session, ())):
            if q.id == sender or (to is not None and to != q.id):
                continue
            self.relayed += 1
            q.push({**message, "from": sender, "role": role})
            if message.get("type") == "peer.joined" and q.role != role:
                await self.publish(q, {"type": "peer.present"}, to=sender)

    def end_local(self, session: str, reason: str) -> None:
        """Tell this instance's pages of a session that it is over, and close them. By the session's id
        only: a late end of an earlier session of the same ticket must not close the one open now."""
        for q in tuple(self.local.get(session, ())):
            q.end(1000, "session closed", {"type": "session.closed", "reason": reason})

    def close_token(self, digest: str, reason: str) -> int:
        """Close (4401) this instance's pages in a session that joined with the token of hash ``digest``:
        it was revoked (devices/watch.forget_here)."""
        found = [q for group in self.local.values() for q in group
                 if getattr(q.ws.state, "token_hash", None) == digest and q.ended is None]
        for q in found:
            q.end(4401, reason)
        return len(found)

    # ---- following the center streams ---------------------------------------------------------------
    def on_event(self, event: LiveEvent) -> None:
        """A hub listener (never waits): a session's end closes this instance's pages of it. The scripts
        that take a ticket away from its remote window, or pause or close the window, end its session
        in the same step, so the end is on the stream right after what caused it."""
        if event.type == "session.closed":
            s = event.data.get("session") or {}
            if isinstance(s.get("id"), str):
                reason = str(event.data.get("reason", ""))
                self._remember_end(s["id"], reason)
                self.end_local(s["id"], reason)

    def _remember_end(self, session: str, reason: str) -> None:
        now = time.monotonic()
        self._ends.pop(session, None)      # heard again (read twice): kept from now, last in line
        self._ends[session] = (now, reason)
        while next(iter(self._ends.values()))[0] < now - ENDS_KEPT_S:
            del self._ends[next(iter(self._ends))]

    async def follow_signals(self, stop: asyncio.Event) -> None:
        await follow(self.settings, self.keys.every_session_signals(), "session-signals", stop,
                     on_message=self.deliver, pattern=True)
