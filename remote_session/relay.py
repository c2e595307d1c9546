"""The sessions of this instance and the relay between instances. Each page in a session is a
``Participant``; what one sends is published on the session's Redis channel and every instance hands
it to its own participants of that session (one pattern subscription per instance). Sessions open
and close by one script each (``session_open.lua``, ``session_close.lua``), so each start and end is
one event on the center's stream whichever instances ask; every instance closes its own pages of a
session when it sees that event, or sooner when it sees the ticket leave the window."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from typing import Any

import orjson
from redis.asyncio import Redis
from starlette.websockets import WebSocket

from queue_server.config import Settings
from queue_server.domain.remote_session import SessionEnd, session_end
from queue_server.engine.channels import follow
from queue_server.engine.keys import Keys
from queue_server.engine.scripts import Scripts, call_each
from queue_server.realtime.events import LiveEvent

from .config import SessionConfig

log = logging.getLogger("queue_server.remote_session")
OUTBOX_MAX = 256            # messages waiting for one page; more and the page is too slow: closed (1013)
CLOSES_MAX = 10_000         # session ends waiting for their script call
CLOSES_PER_CALL = 200       # of them, sent in one round trip


class Participant:
    """One page in one session: its socket and the queue of what it has yet to be sent, so the relay
    never waits on a slow page."""

    def __init__(self, ws: WebSocket, center: str, window: str, ticket: str, session: str, role: str,
                 started_at: int) -> None:
        self.ws = ws
        self.id = secrets.token_hex(8)
        self.center, self.window, self.ticket, self.session, self.role = center, window, ticket, session, role
        self.started_at = started_at   # the session's start (ms): an end from before it is not its end
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
    def __init__(self, redis: Redis, keys: Keys, settings: Settings, config: SessionConfig, catalog: Any) -> None:
        self.redis, self.keys, self.settings, self.config = redis, keys, settings, config
        self.catalog = catalog          # a callable: the engine's catalog now (reloaded on network changes)
        self.scripts = Scripts(redis)
        self.local: dict[str, set[Participant]] = {}
        self.closes: asyncio.Queue[tuple[str, SessionEnd]] = asyncio.Queue(CLOSES_MAX)
        self.relayed = 0
        # Windows (center, window) known to hold no session: a ticket leaving one asks no script call.
        # Every instance sees every remote ticket leave, nearly always with no session open, and asked
        # each time: a script call per remote visit per sockets process. Known from this instance's own
        # closes and from session.started / session.closed on the streams, which come in the order the
        # scripts ran; a window not known asks, as does one whose session started since.
        self.without_session: set[tuple[str, str]] = set()
        self.starts_seen = 0           # session.started events seen: a close's answer older than one is not kept
        self.asked = 0                 # session ends this instance asked the closer for

    # ---- opening and closing, one script each ------------------------------------------------------
    async def open(self, center: str, window: str, ticket: str, point: str, role: str, now_ms: int) -> dict[str, Any]:
        k = self.keys
        raw = await self.scripts["session_open"](
            keys=[k.remote_session(center, window), k.ticket(center, ticket), k.events(center)],
            args=[k.center_base(center), now_ms, self.settings.stream_maxlen, center, window, point, self.config.ttl_s,
                  role])
        return orjson.loads(raw)

    async def close(self, center: str, end: SessionEnd, now_ms: int) -> dict[str, Any]:
        return (await self.close_all([(center, end)], now_ms))[0]

    async def close_all(self, ends: list[tuple[str, SessionEnd]], now_ms: int) -> list[dict[str, Any]]:
        """The script once per (center, end), all in one round trip; the windows left with no session
        are noted, unless a session started somewhere while the calls were on their way."""
        k = self.keys
        starts = self.starts_seen
        replies = [orjson.loads(raw) for raw in await call_each(self.redis, self.scripts["session_close"], [
            ([k.remote_session(center, end.window), k.events(center)],
             [k.center_base(center), now_ms, self.settings.stream_maxlen, center, end.window, end.ticket or "",
              end.reason, "" if end.at is None else end.at]) for center, end in ends])]
        if self.starts_seen == starts:
            self.without_session.update((center, end.window) for (center, end), r in zip(ends, replies) if "kept" not in r)
        return replies

    async def note_windows_without_session(self) -> None:
        """Every remote window of the catalog that holds no session now is known to hold none: else the
        first ticket to leave each one asks a script call of every sockets instance after each start
        (1,148 remote windows in the city: 12 % of a sockets process's py-spy samples in the load test's
        capacity phase). Called once listening: a session that starts while this reads is seen, and
        then nothing is noted, as after a close."""
        windows = [(code, w) for code, center in self.catalog().centers.items()
                   for w, window in center.windows.items() if window.kind == "remote"]
        starts = self.starts_seen
        async with self.redis.pipeline(transaction=False) as pipe:
            for center, window in windows:
                pipe.exists(self.keys.remote_session(center, window))
            held = await pipe.execute()
        if self.starts_seen == starts:
            self.without_session.update(at for at, n in zip(windows, held) if not n)

    # ---- participants on this instance -------------------------------------------------------------
    def join(self, p: Participant) -> None:
        self.local.setdefault(p.session, set()).add(p)

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
        """A hub listener (never waits): a session's end closes its pages here at once, and the ticket
        or window that left asks for the session.closed event, which the closer loop sends."""
        data = event.data
        if event.type in ("session.started", "session.closed"):
            s = data.get("session") or {}
            at = (event.center, str(s.get("window")))
            if event.type == "session.started":
                self.starts_seen += 1
                self.without_session.discard(at)
            elif isinstance(s.get("id"), str):
                self.without_session.add(at)   # a superseded one is followed by its successor's start
                self.end_local(s["id"], str(data.get("reason", "")))
            return
        end = session_end(data)
        if end is None:
            return
        center = self.catalog().centers.get(event.center)
        window = center.windows.get(end.window) if center is not None else None
        if window is None or window.kind != "remote":
            return
        for group in list(self.local.values()):
            for q in tuple(group):
                if q.center == event.center and q.window == end.window and end.ticket in (None, q.ticket) \
                        and (end.at is None or q.started_at <= end.at):
                    q.end(1000, "session closed", {"type": "session.closed", "reason": end.reason})
        self._ask_close(event.center, end)

    def _ask_close(self, center: str, end: SessionEnd) -> None:
        if (center, end.window) in self.without_session:
            return
        self.asked += 1
        try:
            self.closes.put_nowait((center, end))
        except asyncio.QueueFull:
            log.warning("session closes backed up; the end of %s's session at %s is left to its ttl", center, end.window)

    async def run_closer(self, stop: asyncio.Event, clock: Any) -> None:
        """Sends the session.closed events the hub listener asked for, all those waiting in one round
        trip (every remote ticket that leaves its window asks, on every instance); a Redis failure ends
        the run for the supervisor to restart, the closes asked again."""
        while not stop.is_set():
            ends = [await self.closes.get()]
            while not self.closes.empty() and len(ends) < CLOSES_PER_CALL:
                ends.append(self.closes.get_nowait())
            try:
                await self.close_all(ends, clock.now_ms())
            except Exception:
                for end in ends:
                    self._ask_close(*end)
                raise

    async def follow_signals(self, stop: asyncio.Event) -> None:
        await follow(self.settings, self.keys.every_session_signals(), "session-signals", stop,
                     on_message=self.deliver, pattern=True)
