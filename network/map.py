"""The network on a map: every center and active service point with its hours, whether it is open
now, its live waiting count and predicted wait, as GeoJSON for the city app and as CSV for the district office. Read from Redis in
one pipeline and kept a few seconds per instance: a city of map clients costs one read per period,
and an unchanged map keeps its ETag."""
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
from queue_server.config import Settings
from queue_server.domain.calendar import Calendar
from queue_server.domain.catalog import Catalog
from queue_server.domain.network import KINDS, local_moment, point_id, serving_windows
from queue_server.domain.wait import estimate_wait_s
from queue_server.engine.keys import Keys
from queue_server.engine.scripts import Scripts, call_each

FRESH_S = 5.0          # how long one read of the live figures serves every map request of an instance
CLASSES = ("p", "a", "n")
CENTER_LINE = "comprehensive"   # a center's predicted wait is that of a walk-in at its main line
REMOTE_LINE = "remote"


@dataclass(frozen=True)
class MapView:
    source: list[dict[str, Any]]     # the read it was built from
    etag: str
    body: bytes


def _opening(calendar: Calendar, center: str, point: str | None, now: datetime) -> dict[str, Any]:
    """Hours, open now, and (when closed) the next opening, from the opening calendar."""
    opening = calendar.opening(center, now, point)
    return {"hours": calendar.hours_of(center, point).to_json(), "open_now": opening.open,
            "next_opening_at": opening.next_opening.isoformat() if opening.next_opening and not opening.open else None}


async def live_features(redis: Redis, scripts: Scripts, keys: Keys, catalog: Catalog, calendar: Calendar,
                        settings: Settings, now_ms: int) -> list[dict[str, Any]]:
    """One feature per center (a Point where its position is known) and per service point
    (active or not: the caller filters), each with its hours, whether open now, its waiting count and
    predicted wait. One ``map_counts`` script per center, all in one pipeline: a JSON reply each."""
    now = from_ms(now_ms)
    # A point with neither hours of its own nor a line of the calendar file naming it opens as every
    # such point of its center does: worked out once per center, not per point (6,000 of them).
    named = {(e.center, e.point) for e in calendar.entries if e.point is not None}
    openings: dict[tuple[str, str | None], dict[str, Any]] = {}

    def opening_of(center: str, point: str | None) -> dict[str, Any]:
        own = point is None or (center, point) in calendar.points or (center, point) in named or (None, point) in named
        key = (center, point if own else "*")
        if key not in openings:
            openings[key] = _opening(calendar, center, point, now)
        return openings[key]

    calls = []
    for c in catalog.centers.values():
        remote = [w.code for w in c.windows.values() if w.kind == "remote"]
        lines = [keys.waiting(c.code, q, cls) for q in c.queues for cls in CLASSES]
        points = [keys.waiting(c.code, keys.point_line(p), cls) for p in c.service_points for cls in CLASSES]
        calls.append(([keys.open_windows(c.code, CENTER_LINE), keys.stats(c.code), *lines,
                       *(keys.window(c.code, w) for w in remote), *points],
                      [len(lines), len(remote), CENTER_LINE, REMOTE_LINE]))
    replies = await call_each(redis, scripts["map_counts"], calls)
    default = float(settings.default_handling_s)
    features: list[dict[str, Any]] = []
    for c, raw in zip(catalog.centers.values(), replies):
        live = orjson.loads(raw)
        states = dict(zip((w.code for w in c.windows.values() if w.kind == "remote"), live["states"] or []))
        center_avg = float(live["center_avg"] or default)
        remote_avg = float(live["remote_avg"] or default)
        position = {"type": "Point", "coordinates": [c.lng, c.lat]} if c.lat is not None and c.lng is not None else None
        features.append({"type": "Feature", "id": f"center:{c.code}", "geometry": position, "properties": {
            "type": "center", "center": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "address": c.address,
            **opening_of(c.code, None),
            "waiting": live["waiting"], "predicted_wait_s": estimate_wait_s(live["waiting"], center_avg, live["open"])}})
        moment = local_moment(now_ms, c.timezone)
        for p, at_point in zip(c.service_points.values(), live["points"] or []):
            on_duty = [w for w in serving_windows(c.assignments, p.code, moment) if states.get(w) in ("open", "paused")]
            zh, en = KINDS.get(p.kind, (p.kind, p.kind))
            geometry = {"type": "Point", "coordinates": [p.lng, p.lat]} if p.lat is not None and p.lng is not None else None
            features.append({"type": "Feature", "id": point_id(c.code, p.code), "geometry": geometry, "properties": {
                "type": "service_point", "center": c.code, "code": p.code, "name_zh": p.name_zh, "name_en": p.name_en,
                "kind": p.kind, "kind_zh": zh, "kind_en": en, "address": p.address, "status": p.status,
                **opening_of(c.code, p.code),
                "served_now": p.status == "active" and bool(on_duty), "waiting": at_point,
                "predicted_wait_s": estimate_wait_s(at_point, remote_avg, len(on_duty))}})
    return features


class MapCache:
    """The last read of the live figures, refreshed at most every FRESH_S and whenever the catalog was
    swapped (a point opened or closed shows at once); concurrent requests share one read."""

    def __init__(self) -> None:
        self._at = -FRESH_S
        self._catalog: Catalog | None = None
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
                self._features = await live_features(state.redis, state.engine.scripts, state.keys, catalog, state.calendar, state.settings,
                                                     state.clock.now_ms())
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
