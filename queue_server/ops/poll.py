"""What the figures take from outside the event streams, read every few seconds: the devices the live
sockets recorded as connected (``realtime/presence.py``), the persister's lag, and the catalog as the
network last reloaded it (a point's status and its remote windows)."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
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
        self._known: dict[bytes, _Known | None] = {}

    async def read(self, redis: Redis, keys: Keys, centers: list[str], now_ms: int,
                   online_s: int) -> dict[str, list[dict[str, Any]]]:
        """Per center, its devices with ``online`` true when connected and heard from within ``online_s``.
        Read and sorted a few centers at a time: the whole city's 25,000 devices in one go held the
        event loop for ~80 ms every poll, and every request and socket of the process with it."""
        before, known = self._known, {}
        out: dict[str, list[dict[str, Any]]] = {}
        for i in range(0, len(centers), CENTERS_PER_READ):
            part = centers[i:i + CENTERS_PER_READ]
            async with redis.pipeline(transaction=False) as pipe:
                for c in part:
                    pipe.hgetall(keys.devices(c))
                replies = await pipe.execute()
            self._take(part, replies, before, known, out, now_ms, online_s)
        self._known = known
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

    def _take(self, centers: list[str], replies: list[Any], before: dict[bytes, _Known | None],
              known: dict[bytes, _Known | None], out: dict[str, list[dict[str, Any]]], now_ms: int,
              online_s: int) -> None:
        for c, entries in zip(centers, replies):
            found = []
            for field, raw in (entries or {}).items():
                k = before[raw] if raw in before else self._shape(field, raw, now_ms, online_s)
                if k is not None:
                    k = k.at(now_ms)
                    found.append(k)
                known[raw] = k
            found.sort(key=attrgetter("order"))
            out[c] = [k.entry for k in found[:MAX_DEVICES]]


async def refresh(figures: LiveFigures, redis: Redis, keys: Keys, clock: Clock, online_s: int,
                  reader: DeviceReader, catalog: Callable[[], dict[str, Center]]) -> None:
    figures.set_catalog(catalog())
    centers = list(figures.centers)
    for c, found in (await reader.read(redis, keys, centers, clock.now_ms(), online_s)).items():
        figures.set_devices(c, found)
    behind = await lag(redis, keys, centers)
    for c in centers:
        figures.set_persister(c, behind.get(c, {"pending": 0, "undelivered": 0, "lag_ms": 0}))


async def run(figures: LiveFigures, redis: Redis, keys: Keys, clock: Clock, online_s: int, every_s: float,
              on_change: Any, stop: asyncio.Event, catalog: Callable[[], dict[str, Center]]) -> None:
    """Poll until ``stop``; a failure (Redis away) ends the run, for the app's supervisor to start again."""
    reader = DeviceReader()
    while not stop.is_set():
        before = figures.version
        await refresh(figures, redis, keys, clock, online_s, reader, catalog)
        if figures.version != before:
            on_change()
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except asyncio.TimeoutError:
            pass
