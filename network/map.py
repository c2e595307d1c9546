"""The network on a map: every center and active service point with its hours, whether it is open
now, its live waiting count and predicted wait, as GeoJSON for the city app and as CSV for the district office. Read from Redis
and kept a few seconds per instance: a city of map clients costs one read per period, and an unchanged
map keeps its ETag. What the catalog says of each place (names, kinds, positions, the keys of its
lines, who serves it when) is worked out once per catalog, each place's opening once until it
changes (the calendar keeps it), and a place whose figures did not change keeps its feature: a read
of the city (287 centers, 6,077 points) cost the server 70–80 ms of CPU when it built everything
again, 40–50 now (``python -m loadtests.map_latency``)."""
from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from queue_server.clock import from_ms
from queue_server.domain.calendar import Calendar, Opening
from queue_server.domain.catalog import Catalog
from queue_server.domain.network import KINDS, Assignment, local_moment, point_id, serving_windows
from queue_server.domain.wait import estimate_wait_s
from queue_server.engine.keys import Keys
from queue_server.engine.scripts import Scripts, call_grouped

FRESH_S = 5.0          # how long one read of the live figures serves every map request of an instance
MAP_BATCH = 8          # centers a call of map_counts.lua: ~0.7 ms of Redis at the city's size, others waiting no longer
CLASSES = ("p", "a", "n")
CENTER_LINE = "comprehensive"   # a center's predicted wait is that of a walk-in at its main line
REMOTE_LINE = "remote"
ON_DUTY = (b"open", b"paused")  # a remote window's states in which it serves its points


@dataclass(frozen=True)
class MapView:
    source: list[dict[str, Any]]     # the read it was built from
    etag: str
    body: bytes


@dataclass(frozen=True)
class PointPlace:
    """A service point as the catalog describes it."""
    code: str
    feature_id: str
    geometry: dict[str, Any] | None
    properties: dict[str, Any]
    assignments: tuple[Assignment, ...]    # the center's that name this point


@dataclass(frozen=True)
class CenterPlace:
    """A center as the catalog describes it, with its part of the read (keys, arguments)."""
    code: str
    timezone: str
    feature_id: str
    geometry: dict[str, Any] | None
    properties: dict[str, Any]
    remote: tuple[str, ...]           # its remote windows, in the order the read answers their states
    points: tuple[PointPlace, ...]
    read: tuple[list[str], list[Any]]


def _position(lat: float | None, lng: float | None) -> dict[str, Any] | None:
    return {"type": "Point", "coordinates": [lng, lat]} if lat is not None and lng is not None else None


def places(catalog: Catalog, keys: Keys) -> list[CenterPlace]:
    """Every center and point of ``catalog``, as the map shows them apart from the live figures."""
    out = []
    for c in catalog.centers.values():
        remote = tuple(w.code for w in c.windows.values() if w.kind == "remote")
        lines = [keys.waiting(c.code, q, cls) for q in c.queues for cls in CLASSES]
        at_points = [keys.waiting(c.code, keys.point_line(p), cls) for p in c.service_points for cls in CLASSES]
        points = []
        for p in c.service_points.values():
            zh, en = KINDS.get(p.kind, (p.kind, p.kind))
            points.append(PointPlace(p.code, point_id(c.code, p.code), _position(p.lat, p.lng), {
                "type": "service_point", "center": c.code, "code": p.code, "name_zh": p.name_zh, "name_en": p.name_en,
                "kind": p.kind, "kind_zh": zh, "kind_en": en, "address": p.address, "status": p.status},
                tuple(a for a in c.assignments if a.point == p.code)))
        out.append(CenterPlace(
            c.code, c.timezone, f"center:{c.code}", _position(c.lat, c.lng),
            {"type": "center", "center": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "address": c.address},
            remote, tuple(points),
            ([keys.open_windows(c.code, CENTER_LINE), keys.stats(c.code), *lines,
              *(keys.window(c.code, w) for w in remote), *at_points], [len(lines), len(remote)])))
    return out


class Openings:
    """Each place's hours and whether it is open now, as the map shows them, from the opening calendar
    (which keeps each answer until it changes), shaped once per answer. A point with neither hours of
    its own nor a line of the calendar file naming it opens as every such point of its center does:
    the first of them answers for them all. Holds while the calendar is the one it was made from (a
    reload takes a fresh one in place: ``generation``)."""

    def __init__(self, calendar: Calendar) -> None:
        self.calendar, self.generation = calendar, calendar.generation
        self._named = {(e.center, e.point) for e in calendar.entries if e.point is not None}
        self._asks: dict[tuple[str, str | None], str | None] = {}      # place -> the point whose answer it takes
        self._shown: dict[tuple[str, str | None], tuple[Opening, dict[str, Any]]] = {}

    def current(self, calendar: Calendar) -> bool:
        return calendar is self.calendar and calendar.generation == self.generation

    def of(self, center: str, point: str | None, now: datetime) -> dict[str, Any]:
        if (center, point) not in self._asks:
            cal, named = self.calendar, self._named
            own = point is None or (center, point) in cal.points or (center, point) in named or (None, point) in named
            self._asks[(center, point)] = point if own else self._asks.setdefault((center, "*"), point)
        asks = self._asks[(center, point)]
        opening = self.calendar.opening(center, now, asks)
        shown = self._shown.get((center, asks))
        if shown is not None and shown[0] is opening:
            return shown[1]
        answer = {"hours": self.calendar.hours_of(center, asks).to_json(), "open_now": opening.open,
                  "next_opening_at": opening.next_opening.isoformat() if opening.next_opening and not opening.open else None}
        self._shown[(center, asks)] = (opening, answer)
        return answer


class LiveMap:
    """The features of one catalog's places with the live figures of each read. A place whose
    figures and opening are as at the last read keeps its feature: most of the city's 6,000 points
    wait for nobody most of the day."""

    def __init__(self, catalog: Catalog, keys: Keys) -> None:
        self.places = places(catalog, keys)
        self._last: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}   # feature id -> (figures, feature)
        self._features: list[dict[str, Any]] = []
        self._changed = False

    def _feature(self, feature_id: str, geometry: dict[str, Any] | None, properties: dict[str, Any],
                 figures: tuple[Any, ...], live: dict[str, Any]) -> dict[str, Any]:
        last = self._last.get(feature_id)
        if last is not None and last[0] == figures:
            return last[1]
        feature = {"type": "Feature", "id": feature_id, "geometry": geometry, "properties": {**properties, **live}}
        self._last[feature_id] = (figures, feature)
        self._changed = True
        return feature

    async def read(self, redis: Redis, scripts: Scripts, openings: Openings, default_handling_s: float,
                   now_ms: int) -> list[dict[str, Any]]:
        """One feature per center (a Point where its position is known) and per service point
        (active or not: the caller filters), each with its hours, whether open now, its waiting count
        and predicted wait. The live figures from ``map_counts``, ``MAP_BATCH`` centers a call. Nothing
        changed since the last read: the same list, whose views (and ETags) then hold."""
        where = self.places
        self._changed = False
        replies = await call_grouped(redis, scripts["map_counts"], [c.read for c in where], [CENTER_LINE, REMOTE_LINE],
                                     MAP_BATCH)
        now = from_ms(now_ms)
        moments: dict[str, tuple[int, int]] = {}
        features: list[dict[str, Any]] = []
        for c, (waiting, open_windows, center_avg, remote_avg, states, at_points) in zip(where, replies):
            opening = openings.of(c.code, None, now)
            predicted = estimate_wait_s(waiting, float(center_avg or default_handling_s), open_windows)
            features.append(self._feature(c.feature_id, c.geometry, c.properties, (opening, waiting, predicted),
                                          {**opening, "waiting": waiting, "predicted_wait_s": predicted}))
            moment = moments.get(c.timezone) or moments.setdefault(c.timezone, local_moment(now_ms, c.timezone))
            on_duty = {w for w, state in zip(c.remote, states) if state in ON_DUTY}
            remote_s = float(remote_avg or default_handling_s)
            for p, at_point in zip(c.points, at_points):
                serving = sum(1 for w in serving_windows(p.assignments, p.code, moment) if w in on_duty) if on_duty else 0
                opening = openings.of(c.code, p.code, now)
                served = p.properties["status"] == "active" and serving > 0
                predicted = estimate_wait_s(at_point, remote_s, serving)
                features.append(self._feature(p.feature_id, p.geometry, p.properties, (opening, served, at_point, predicted),
                                              {**opening, "served_now": served, "waiting": at_point,
                                               "predicted_wait_s": predicted}))
        if self._changed:
            self._features = features
        return self._features


class MapCache:
    """The last read of the live figures, refreshed at most every FRESH_S and whenever the catalog was
    swapped (a point opened or closed shows at once); concurrent requests share one read."""

    def __init__(self) -> None:
        self._at = -FRESH_S
        self._catalog: Catalog | None = None
        self._live: LiveMap | None = None
        self._openings: Openings | None = None
        self._features: list[dict[str, Any]] = []
        self._views: dict[tuple[str | None, str | None], MapView] = {}   # built once per read and filter
        self._lock = asyncio.Lock()

    def _fresh(self, catalog: Catalog) -> bool:
        return catalog is self._catalog and time.monotonic() - self._at < FRESH_S

    async def features(self, state: Any) -> list[dict[str, Any]]:
        if self._fresh(state.engine.catalog):
            return self._features
        async with self._lock:
            catalog = state.engine.catalog
            if not self._fresh(catalog):
                if self._live is None or catalog is not self._catalog:
                    self._live = LiveMap(catalog, state.keys)
                if self._openings is None or not self._openings.current(state.calendar):
                    self._openings = Openings(state.calendar)
                self._features = await self._live.read(state.redis, state.engine.scripts, self._openings,
                                                       float(state.settings.default_handling_s), state.clock.now_ms())
                self._catalog, self._at = catalog, time.monotonic()
                self._views = {}
        return self._features

    async def view(self, state: Any, center: str | None, kind: str | None) -> MapView:
        features = await self.features(state)
        found = self._views.get((center, kind))
        if found is None or found.source is not features:
            found = self._views[(center, kind)] = geojson(features, center, kind)
        return found


def geojson(features: list[dict[str, Any]], center: str | None, kind: str | None) -> MapView:
    """The public map: every center and every ACTIVE point, filtered; the ETag is the content's."""
    chosen = [f for f in features
              if (center is None or f["properties"]["center"] == center)
              and (f["properties"]["type"] == "center" and kind is None
                   or f["properties"]["type"] == "service_point" and f["properties"]["status"] == "active"
                   and (kind is None or f["properties"]["kind"] == kind))]
    body = orjson.dumps({"type": "FeatureCollection", "features": chosen})
    return MapView(features, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', body)
