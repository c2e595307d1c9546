"""Feeding the live figures from the process's one stream reader (``realtime/``): the feed has the
reader follow every center, listens to the hub, which hands it every event the reader decoded, and
applies each as it comes. While a center warms up its events wait; after the warm-up those at or
below what was read are skipped, so nothing is missed or counted twice. When the reader finds a center's epoch changed (Redis lost its history),
the center warms up again from the record."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from redis.asyncio import Redis

from ..clock import Clock
from ..engine.keys import Keys
from ..engine.queue_engine import QueueEngine
from ..realtime.events import LiveEvent
from ..realtime.reader import StreamReader
from .live import LiveFigures
from .warm import open_cases, open_door_cases, open_packages, today_events

log = logging.getLogger("queue_server.ops")


class Feed:
    def __init__(self, figures: LiveFigures, reader: StreamReader, redis: Redis, pool: asyncpg.Pool,
                 engine: QueueEngine, clock: Clock, on_change: Callable[[], None], on_event: Callable[[str], None]) -> None:
        self.figures = figures
        self.reader = reader
        self.hub = reader.hub
        self.redis = redis
        self.pool = pool
        self.engine = engine
        self.keys: Keys = engine.keys
        self.clock = clock
        self.on_change = on_change
        self.on_event = on_event
        self.held: dict[str, list[LiveEvent]] = {}      # events of centers warming up
        self.epochs: dict[str, str] = {}
        self.live = False                               # started: every center warmed up

    async def start(self) -> None:
        """Have every center's stream read, listen, then warm every center up: an event the reader
        hands over meanwhile waits. A start that fails stops listening; the next starts over."""
        await self.reader.follow_all(self.figures.centers)
        self.held = {code: [] for code in self.figures.centers}
        self.epochs = dict(self.reader.epochs)
        self.hub.listeners.append(self.take)
        try:
            cases = await open_cases(self.pool)
            for code in self.figures.centers:
                await self.warm(code, cases.get(code, []))
        except BaseException:   # nothing held for a retry that may never come
            self.hub.listeners.remove(self.take)
            self.held = {}
            raise
        self.live = True

    async def warm(self, center: str, cases: list[dict[str, Any]]) -> None:
        self.held.setdefault(center, [])
        now = self.clock.now_ms()
        self.figures.roll(now)
        events, tail = await today_events(self.redis, self.pool, self.keys, center, self.figures.centers[center].day_start)
        snapshot = await self.engine.snapshot(center)
        packages = await open_packages(self.pool, center)
        door = await open_door_cases(self.pool, center)
        self.figures.load(center, events, tail, snapshot, cases, now, packages, door)
        for event in self.held.pop(center, []):
            self.take(event)
        self.on_change()

    def take(self, event: LiveEvent) -> None:
        held = self.held.get(event.center)
        if held is not None:
            held.append(event)
            return
        if self.figures.apply(event.center, event.key, event.data):
            self.on_event(event.type)
            self.on_change()

    async def _rewarm(self, center: str) -> None:
        self.held.setdefault(center, [])
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

    async def run(self, stop: asyncio.Event, every_s: float = 1.0) -> None:
        """Watch the reader's epochs, once started."""
        while not stop.is_set():
            for center, epoch in list(self.reader.epochs.items()) if self.live else ():
                if self.epochs.get(center, epoch) != epoch:
                    await self._rewarm(center)
                self.epochs[center] = epoch
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except asyncio.TimeoutError:
                pass

    async def close(self) -> None:
        """Stop listening: the app stops."""
        if self.take in self.hub.listeners:
            self.hub.listeners.remove(self.take)
