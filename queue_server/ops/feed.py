"""Feeding the live figures from the process's one stream reader (``realtime/``): the feed has the
reader follow every center, listens to the hub, which hands it every event the reader decoded, and
applies each as it comes. While a center warms up its events wait; after the warm-up those at or
below what was read are skipped, so nothing is missed or counted twice. When the reader finds a center's epoch changed (Redis lost its history),
the center warms up again from the record.

A city's warm-up reads hundreds of thousands of events (``loadtests/figures_warmup.py``: 8–10 s for
287 centers of 600 tickets a day), so the centers warm one after another, the next ones' days read
while one is applied, a center a dashboard waits for goes next, and how far it is can be told
(``progress``)."""
from __future__ import annotations

import asyncio
import logging
from collections import deque
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
Read = tuple[str, tuple[Any, ...]]   # a center and what its warm-up read (``Feed._read``)
READ_AHEAD = 4     # centers whose day is being read while one is applied: PostgreSQL answers them meanwhile


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
        self.to_warm: list[str] = []                    # centers the start has yet to warm, the next first
        self.warmed: set[str] = set()                   # centers the start has warmed
        self.asked: list[str] = []                      # centers to warm first: their dashboards wait
        self._step = asyncio.Event()                    # set, and replaced, at each center warmed

    async def start(self) -> None:
        """Have every center's stream read, listen, then warm every center up: an event the reader
        hands over meanwhile waits. A start that fails stops listening; the next starts over."""
        await self.reader.follow_all(self.figures.centers)
        self.held = {code: [] for code in self.figures.centers}
        self.epochs = dict(self.reader.epochs)
        self.hub.listeners.append(self.take)
        self.to_warm, self.warmed = list(self.figures.centers), set()
        reading: deque[asyncio.Future[Read]] = deque()
        try:
            cases = await open_cases(self.pool)
            while self.to_warm or reading:
                while self.to_warm and len(reading) < READ_AHEAD:
                    reading.append(asyncio.ensure_future(self._read(self._next())))
                center, read = await reading.popleft()
                self._load(center, read, cases.get(center, []))
                self.warmed.add(center)
                self._stepped()
        except BaseException:   # nothing held for a retry that may never come
            for r in reading:
                r.cancel()
            self.hub.listeners.remove(self.take)
            self.held, self.to_warm, self.warmed = {}, [], set()
            raise
        self.live = True

    def first(self, center: str) -> None:
        """Warm ``center`` next (after those asked before it): a dashboard of it waits."""
        if not self.live and center not in self.warmed and center not in self.asked:
            self.asked.append(center)

    def _next(self) -> str:
        while self.asked:
            center = self.asked.pop(0)
            if center in self.to_warm:
                self.to_warm.remove(center)
                return center
        return self.to_warm.pop(0)

    @property
    def progress(self) -> tuple[int, int]:
        """Centers warmed, of how many."""
        return len(self.figures.centers) if self.live else len(self.warmed), len(self.figures.centers)

    async def until_warm(self, center: str | None) -> None:
        """Until ``center`` (None: every center) is warmed up by the start under way."""
        while not (self.live or center is not None and center in self.warmed):
            await self._step.wait()

    def _stepped(self) -> None:
        self._step.set()
        self._step = asyncio.Event()

    async def _read(self, center: str) -> Read:
        """What a center's warm-up applies: its day's events, then its live state, packages and door cases."""
        self.held.setdefault(center, [])
        now = self.clock.now_ms()
        self.figures.roll(now)
        events, tail = await today_events(self.redis, self.pool, self.keys, center, self.figures.centers[center].day_start)
        snapshot = await self.engine.snapshot(center)
        packages = await open_packages(self.pool, center)
        door = await open_door_cases(self.pool, center)
        return center, (events, tail, snapshot, now, packages, door)

    def _load(self, center: str, read: tuple[Any, ...], cases: list[dict[str, Any]]) -> None:
        events, tail, snapshot, now, packages, door = read
        self.figures.load(center, events, tail, snapshot, cases, now, packages, door)
        for event in self.held.pop(center, []):
            self.take(event)
        self.on_change()

    async def warm(self, center: str, cases: list[dict[str, Any]]) -> None:
        _, read = await self._read(center)
        self._load(center, read, cases)

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
