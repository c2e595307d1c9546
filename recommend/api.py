"""``GET /api/v1/recommend``: the centers open now that handle a matter, best first by predicted
wait plus walking time from the resident. Public and rate-limited per address."""
from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from queue_server.api.endpoints import Endpoints, json
from queue_server.api.problems import Problem, validation_problem
from queue_server.api.schemas import Code
from queue_server.clock import from_ms
from queue_server.domain.calendar import Calendar
from queue_server.domain.catalog import Catalog, Center
from queue_server.domain.choice import Candidate, Weights, distance_m, rank
from queue_server.engine.queue_engine import QueueEngine
from queue_server.engine.scripts import call_grouped

api = Endpoints("recommend")
WALK_IN = "kiosk"          # a resident who walks in takes a kiosk ticket
OUTLOOK_BATCH = 16         # centers a call of line_outlook.lua: each reads up to 30 of its waiting tickets


class RecommendQuery(BaseModel):
    matter: Code
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class Recommended(BaseModel):
    center: str
    name_zh: str
    name_en: str
    address: str
    lat: float
    lng: float
    distance_m: int
    walk_s: int = Field(description="straight-line distance at the configured walking speed")
    predicted_wait_s: int = Field(description="what a walk-in taking a ticket now would be told (docs/wait-estimates.md)")
    waiting: int
    open_windows: int
    score_s: int = Field(description="wait × wait weight + walk × walk weight; the list is sorted by it")


class Closed(BaseModel):
    center: str
    name_zh: str
    name_en: str
    next_opening_at: str | None


class Recommendation(BaseModel):
    matter: str
    whole_city: bool = Field(description="false: the matter is handled only at the resident's own center, "
                                         "taken to be the nearest; the list holds that one alone")
    weights: dict[str, float]
    centers: list[Recommended] = Field(description="open now, best first")
    closed: list[Closed] = Field(description="the candidates closed now")


def _query(request: Request) -> RecommendQuery:
    try:
        return RecommendQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise validation_problem(exc) from None


def candidates(catalog: Catalog, matter: str, whole_city: bool, lat: float, lng: float) -> list[tuple[Center, float]]:
    """The centers with a position and a walk-in line for the matter, with their distance; a matter
    that is not whole-city keeps only the nearest (the resident's own center)."""
    found = sorted(((c, distance_m(lat, lng, c.lat, c.lng)) for c in catalog.centers.values()
                    if c.lat is not None and c.lng is not None and c.queue_for(matter, WALK_IN) is not None),
                   key=lambda cd: (cd[1], cd[0].code))
    return found if whole_city else found[:1]


async def predicted(engine: QueueEngine, centers: list[Center], matter: str) -> dict[str, dict[str, Any]]:
    """Per center, what a walk-in of the matter would be told now: ``line_outlook``, OUTLOOK_BATCH
    centers a call."""
    keys, now = engine.keys, engine.clock.now_ms()
    queues = [c.queue_for(matter, WALK_IN).code for c in centers]  # type: ignore[union-attr]
    replies = await call_grouped(engine.redis, engine.scripts["line_outlook"],
                                 [([keys.waiting(c.code, q, "n")], [keys.center_base(c.code), q])
                                  for c, q in zip(centers, queues)], [now], OUTLOOK_BATCH)
    out: dict[str, dict[str, Any]] = {}
    for c, raw in zip(centers, replies):
        r = orjson.loads(raw)
        outlook = engine.outlook(r["line"], int(r["open_windows"]))
        out[c.code] = {"wait_s": outlook.wait_s(engine.cycle, engine.typical_s, float(engine.settings.default_handling_s)),
                       "waiting": int(r["waiting"]), "open_windows": int(r["open_windows"])}
    return out


@api("GET", "/api/v1/recommend", "Centers for a matter, open now, best first by predicted wait plus walk "
     "(?matter=&lat=&lng=)", response=Recommendation, auth=False,
     responses={422: "unknown matter, or lat/lng missing or out of range", 429: "rate limited",
                503: "Redis away: Retry-After"},
     query={"matter": "the matter's code (required)", "lat": "the resident's latitude, WGS-84 (required)",
            "lng": "the resident's longitude, WGS-84 (required)"})
async def recommend(request: Request) -> Response:
    state = request.app.state
    state.recommend.limiter.check(f"ip:{request.client.host if request.client else '-'}")
    q = _query(request)
    engine: QueueEngine = state.engine
    m = engine.catalog.matters.get(q.matter)
    if m is None:
        raise Problem(422, "Invalid request", f"unknown matter {q.matter!r}", errors=[{"field": "matter", "message": "unknown"}])
    calendar: Calendar = state.calendar
    weights: Weights = state.recommend.config.weights
    now = from_ms(engine.clock.now_ms())
    found = candidates(engine.catalog, m.code, m.whole_city, q.lat, q.lng)
    openings = {c.code: calendar.opening(c.code, now) for c, _ in found}
    open_now = [(c, d) for c, d in found if openings[c.code].open]
    live = await predicted(engine, [c for c, _ in open_now], m.code) if open_now else {}
    by_code = {c.code: c for c, _ in found}
    ranked = rank([Candidate(c.code, d, live[c.code]["wait_s"]) for c, d in open_now], weights)
    return json({
        "matter": m.code, "whole_city": m.whole_city,
        "weights": {"wait": weights.wait, "walk": weights.walk, "walk_speed_m_s": weights.walk_speed_m_s},
        "centers": [{"center": k.center, "name_zh": by_code[k.center].name_zh, "name_en": by_code[k.center].name_en,
                     "address": by_code[k.center].address, "lat": by_code[k.center].lat, "lng": by_code[k.center].lng,
                     "distance_m": int(round(k.distance_m)), "walk_s": k.walk_s(weights),
                     "predicted_wait_s": k.wait_s, "waiting": live[k.center]["waiting"],
                     "open_windows": live[k.center]["open_windows"], "score_s": int(round(k.score_s(weights)))}
                    for k in ranked],
        "closed": [{"center": c.code, "name_zh": c.name_zh, "name_en": c.name_en,
                    "next_opening_at": o.next_opening.isoformat() if (o := openings[c.code]).next_opening else None}
                   for c, _ in found if not openings[c.code].open],
    })
