"""What a socket gets first: a resume and exactly the events it missed, or a snapshot.

The socket is subscribed to the hub BEFORE either is read, and the caller drops queued live events
at or below the id returned here: the live queue then starts right after what was sent, with no
gap and no duplicate."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.asyncio import Redis

from ..clock import Clock
from ..domain.tickets import public_ticket
from ..engine.keys import Keys
from ..engine.queue_engine import QueueEngine
from .epoch import ensure_epoch, queue_ensure
from .events import LiveEvent, StreamKey, decode, parse_id

PAGE = 500
Send = Callable[[str], Awaitable[None]]


async def _stream_state(redis: Redis, keys: Keys, center: str) -> tuple[str, StreamKey | None, StreamKey | None]:
    """The epoch (created if missing) and the first and last retained ids, in one round trip."""
    events = keys.events(center)
    async with redis.pipeline(transaction=True) as pipe:
        queue_ensure(pipe, keys, center)
        pipe.xrange(events, "-", "+", count=1)
        pipe.xrevrange(events, "+", "-", count=1)
        _, epoch, first, last = await pipe.execute()
    return (epoch.decode(), parse_id(first[0][0]) if first else None, parse_id(last[0][0]) if last else None)


async def _missed(redis: Redis, keys: Keys, center: str, after: str, limit: int) -> list[LiveEvent] | None:
    """Every entry after ``after``, in order; None when there are more than ``limit`` of them."""
    out: list[LiveEvent] = []
    start = f"({after}"
    while True:
        page = await redis.xrange(keys.events(center), start, "+", count=PAGE)
        for entry_id, fields in page:
            event = decode(center, entry_id, fields)
            if event is not None:
                out.append(event)
        if len(out) > limit:
            return None
        if len(page) < PAGE:
            return out
        last = page[-1][0]
        start = "(" + (last.decode() if isinstance(last, bytes) else last)


def honourable(cursor: StreamKey, oldest: StreamKey | None, newest: StreamKey | None) -> bool:
    """Can every event after ``cursor`` be read? Only if nothing after it was trimmed (it is at or
    past the oldest retained entry) and it is not from the future. Trimming only ever removes the
    oldest entries, so checking the oldest id AFTER reading the missed ones proves none was lost."""
    if newest is None:
        return cursor == (0, 0)
    return oldest is not None and oldest <= cursor <= newest


async def open_stream(redis: Redis, engine: QueueEngine, clock: Clock, center: str, window: str | None,
                      cursor: str | None, epoch: str | None, known_epoch: str | None, replay_max: int,
                      send: Send) -> StreamKey:
    """Send the opening messages; returns the stream id the socket is now at. ``known_epoch`` is the
    reader's (checked every few seconds): good enough for a plain snapshot, since a center whose
    epoch changes has all its sockets closed when the reader notices."""
    keys = engine.keys
    if cursor is None:
        current = known_epoch or await ensure_epoch(redis, keys, center)
        return await send_snapshot(engine, clock, center, window, current, reset=False, send=send)
    current, _, newest = await _stream_state(redis, keys, center)
    key = parse_id(cursor)
    if key is not None and (epoch is None or epoch == current) and (newest is None or key <= newest):
        missed = await _missed(redis, keys, center, cursor, replay_max)
        still, oldest, newest = await _stream_state(redis, keys, center)
        if missed is not None and still == current and honourable(key, oldest, newest):
            await send(orjson.dumps({"type": "resume", "cursor": cursor, "epoch": current}).decode())
            for event in missed:
                if window is None or window in event.windows:
                    await send(event.text)
            return missed[-1].key if missed else key
    return await send_snapshot(engine, clock, center, window, current, reset=True, send=send)


async def send_snapshot(engine: QueueEngine, clock: Clock, center: str, window: str | None, epoch: str,
                        reset: bool, send: Send) -> StreamKey:
    snap = await engine.snapshot(center, window)
    windows: list[dict[str, Any]] = list(snap.get("windows") or [])
    tickets = [public_ticket(t) for t in (snap.get("tickets") or [])]
    tickets.sort(key=lambda t: (t.get("issued_at", 0), t.get("id", "")))
    await send(orjson.dumps({
        "type": "snapshot", "center": center, "cursor": snap["cursor"], "epoch": epoch, "reset": reset,
        "now": clock.now_ms(), "windows": windows, "waiting": snap.get("waiting") or {}, "tickets": tickets,
    }).decode())
    return parse_id(snap["cursor"]) or (0, 0)

