"""What the figures take from outside the event streams, read every few seconds for the centers someone
watches: the devices the live sockets recorded as connected (``realtime/presence.py``), the persister's
lag, and the catalog as the network last reloaded it (a point's status and its remote windows)."""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

import orjson
from redis.asyncio import Redis

from ..clock import Clock
from ..domain.catalog import Center
from ..engine.keys import Keys
from ..record.persister import lag
from .live import LiveFigures

MAX_DEVICES = 200
CENTERS_PER_READ = 20     # centers read and sorted between two yields to the event loop


class _Known:
    """One presence record as the figures show it: its entry, its place in the sort, and until when
    it counts as online (ms; None: not online)."""
    __slots__ = ("entry", "order", "online_until")

    def __init__(self, entry: dict[str, Any], online_until: int | None) -> None:
        self.entry, self.online_until = entry, online_until
        self.order = (not entry["online"], str(entry["kind"]), str(entry["window"] or ""), str(entry["label"]))

    def at(self, now_ms: int) -> _Known:
        """Itself, or the same record gone offline by ``now_ms`` (not heard from for too long)."""
        if self.online_until is None or now_ms <= self.online_until:
            return self
        return _Known({**self.entry, "online": False}, None)


class DeviceReader:
    """Reads every center's device hash. Between two polls most records are unchanged (a device
    rewrites its own only on a heartbeat), so each distinct record is parsed, shaped and given its
    sort key once and kept until it changes: at city scale 25,000 records a poll, of which a heartbeat
    period's share changed (a poll of the whole city cost 100 ms of CPU when each was shaped again)."""

    def __init__(self) -> None:
        self._known: dict[str, dict[bytes, _Known | None]] = {}   # per center, as last read

    async def read(self, redis: Redis, keys: Keys, centers: list[str], now_ms: int,
                   online_s: int) -> dict[str, list[dict[str, Any]]]:
        """Per center, its devices with ``online`` true when connected and heard from within ``online_s``.
        Read and sorted a few centers at a time: the whole city's 25,000 devices in one go held the
        event loop for ~80 ms every poll, and every request and socket of the process with it."""
        out: dict[str, list[dict[str, Any]]] = {}
        for i in range(0, len(centers), CENTERS_PER_READ):
            part = centers[i:i + CENTERS_PER_READ]
            async with redis.pipeline(transaction=False) as pipe:
                for c in part:
                    pipe.hgetall(keys.devices(c))
                replies = await pipe.execute()
            for c, entries in zip(part, replies):
                out[c] = self._take(c, entries or {}, now_ms, online_s)
        return out

    @staticmethod
    def _shape(field: bytes | str, raw: bytes, now_ms: int, online_s: int) -> _Known | None:
        try:
            d = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(d, dict):
            return None
        seen = int(d.get("last_seen") or 0)
        online = bool(d.get("online")) and now_ms - seen <= online_s * 1000
        return _Known({"id": field.decode() if isinstance(field, bytes) else field, "kind": d.get("kind"),
                       "window": d.get("window"), "point": d.get("point"), "label": d.get("label"), "last_seen": seen,
                       "online": online}, seen + online_s * 1000 if online else None)

    def _take(self, center: str, entries: dict[bytes, bytes], now_ms: int, online_s: int) -> list[dict[str, Any]]:
        before, known = self._known.get(center, {}), {}
        found = []
        for field, raw in entries.items():
            k = before[raw] if raw in before else self._shape(field, raw, now_ms, online_s)
            if k is not None:
                k = k.at(now_ms)
                found.append(k)
            known[raw] = k
        self._known[center] = known
        found.sort(key=attrgetter("order"))
        return [k.entry for k in found[:MAX_DEVICES]]


class Poller:
    """Keeps the figures' outside parts current for the centers watched: every ``every_s`` for those the
    open dashboards cover, and at once for a dashboard opening or a read of the figures on what was
    last read longer ago. Nobody watching, nothing is read: at the city's size a poll reads 25,000
    device records, and each sockets process polled them every 5 s for dashboards it did not have
    (9 % of its CPU)."""

    def __init__(self, figures: LiveFigures, redis: Redis, keys: Keys, clock: Clock, online_s: int, every_s: float,
                 catalog: Callable[[], dict[str, Center]], watched: Callable[[], Iterable[str | None]],
                 on_change: Callable[[], None]) -> None:
        self.figures, self.redis, self.keys, self.clock = figures, redis, keys, clock
        self.online_s, self.every_s = online_s, every_s
        self.catalog, self.watched, self.on_change = catalog, watched, on_change
        self.reader = DeviceReader()
        self._read_at: dict[str, float] = {}   # center -> when it was last read (monotonic)
        self._reading = asyncio.Lock()

    def scope(self, watchers: Iterable[str | None]) -> list[str]:
        """The centers ``watchers`` cover, in the figures' order (None: the district, every center)."""
        wanted = set(watchers)
        return [c for c in self.figures.centers if None in wanted or c in wanted]

    async def fresh(self, centers: list[str], within_s: float | None = None) -> None:
        """Read those of ``centers`` not read within ``within_s`` (a poll period unless said), one
        reading at a time: readers arriving together share one."""
        within = self.every_s if within_s is None else within_s
        async with self._reading:
            before = self.figures.version
            self.figures.set_catalog(self.catalog())
            now = time.monotonic()
            stale = [c for c in centers if now - self._read_at.get(c, -math.inf) >= within]
            if stale:
                await self._read(stale, now)
            if self.figures.version != before:
                self.on_change()

    async def _read(self, centers: list[str], now: float) -> None:
        for c, found in (await self.reader.read(self.redis, self.keys, centers, self.clock.now_ms(),
                                                self.online_s)).items():
            self.figures.set_devices(c, found)
        behind = await lag(self.redis, self.keys, centers)
        for c in centers:
            self.figures.set_persister(c, behind.get(c, {"pending": 0, "undelivered": 0, "lag_ms": 0}))
            self._read_at[c] = now

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop``; a failure (Redis away) ends the run, for the app's supervisor to start again."""
        while not stop.is_set():
            await self.fresh(self.scope(self.watched()), within_s=0)
            try:
                await asyncio.wait_for(stop.wait(), self.every_s)
            except asyncio.TimeoutError:
                pass
