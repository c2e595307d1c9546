"""Feeding the live figures from the process's one stream reader (``realtime/``): a tap per center
subscribes to the hub like a socket that wants every event of its center, and applies each event
as the reader hands it over. While a center warms up its events wait in the tap; after the warm-up
those at or below what was read are skipped, so nothing is missed or counted twice. When the hub
resets a center (Redis lost its history), the center warms up again from the record."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis

from ..clock import Clock
from ..engine.keys import Keys
from ..engine.queue_engine import QueueEngine
from ..realtime.events import LiveEvent
from ..realtime.hub import Hub
from .live import LiveFigures
from .warm import open_cases, today_events

log = logging.getLogger("queue_server.ops")


class Tap:
    """A hub subscriber for one center's events that never waits and never overflows."""

    __slots__ = ("feed", "center", "window", "sending_since", "last_sent", "buffer", "closed")

    def __init__(self, feed: "Feed", center: str) -> None:
        self.feed = feed
        self.center = center
        self.window = None
        self.sending_since = 0.0
        self.last_sent = time.monotonic()
        self.buffer: list[LiveEvent] | None = []
        self.closed = False

    def offer(self, event: LiveEvent) -> bool:
        if self.buffer is not None:
            self.buffer.append(event)
        else:
            self.feed.take(event)
        return True

    def ping(self, text: str) -> None:
        self.last_sent = time.monotonic()

    def kill(self, code: int, reason: str, hard: bool = True) -> None:
        if not self.closed:
            self.closed = True
            self.feed.lost(self.center)


class Feed:
    def __init__(self, figures: LiveFigures, hub: Hub, redis: Redis, pool: asyncpg.Pool, engine: QueueEngine,
                 clock: Clock, on_change: Callable[[], None], on_event: Callable[[str], None]) -> None:
        self.figures = figures
        self.hub = hub
        self.redis = redis
        self.pool = pool
        self.engine = engine
        self.keys: Keys = engine.keys
        self.clock = clock
        self.on_change = on_change
        self.on_event = on_event
        self.taps: dict[str, Tap] = {}
        self._rewarming: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Subscribe every center first, then warm each up: an event the reader hands over meanwhile waits."""
        for code in self.figures.centers:
            self._subscribe(code)
        cases = await open_cases(self.pool)
        for code in self.figures.centers:
            await self.warm(code, cases.get(code, []))

    def _subscribe(self, center: str) -> None:
        tap = self.taps[center] = Tap(self, center)
        self.hub.add(tap)

    async def warm(self, center: str, cases: list[dict[str, Any]]) -> None:
        now = self.clock.now_ms()
        self.figures.roll(now)
        events, tail = await today_events(self.redis, self.pool, self.keys, center, self.figures.centers[center].day_start)
        snapshot = await self.engine.snapshot(center)
        self.figures.load(center, events, tail, snapshot, cases, now)
        tap = self.taps[center]
        waiting, tap.buffer = tap.buffer or [], None
        for event in waiting:
            self.take(event)
        self.on_change()

    def take(self, event: LiveEvent) -> None:
        try:
            data = orjson.loads(event.text)
        except orjson.JSONDecodeError:
            return
        if self.figures.apply(event.center, event.id, data):
            self.on_event(event.type)
            self.on_change()

    def lost(self, center: str) -> None:
        """The hub dropped this center's tap (its history was lost): subscribe again and warm up again."""
        self._subscribe(center)
        task = asyncio.get_running_loop().create_task(self._rewarm(center))
        self._rewarming.add(task)
        task.add_done_callback(self._rewarming.discard)

    async def _rewarm(self, center: str) -> None:
        delay = 0.5
        while True:
            try:
                await self.warm(center, (await open_cases(self.pool)).get(center, []))
                log.info("ops figures of %s warmed up again after its stream history was lost", center)
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis or PostgreSQL still away: try again
                log.exception("ops figures of %s could not warm up; retrying", center)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def close(self) -> None:
        for tap in self.taps.values():
            tap.closed = True
            self.hub.remove(tap)
        for task in self._rewarming:
            task.cancel()

    def is_tap(self, sub: object) -> bool:
        return isinstance(sub, Tap)
