"""Read-only catalog and live queue endpoints (public: kiosks and screens read them)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..domain.calendar import Calendar
from ..domain.catalog import Center
from ..domain.network import format_hhmm
from ..domain.tickets import public_ticket
from .auth import principal
from .endpoints import Endpoints, json, known_center
from .schemas import CenterDetail, CenterList, MatterList, QueueSnapshot
from .tickets import limit_outsider

api = Endpoints("centers")


def _summary(c: Center, calendar: Calendar) -> dict:
    """The hours are the calendar's (current the moment they are set), not the catalog's copy."""
    return {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "address": c.address,
            "timezone": c.timezone, "hours": calendar.hours_of(c.code).to_json(), "lat": c.lat, "lng": c.lng}


def public_window(view: dict[str, Any]) -> dict[str, Any]:
    """A window's live view as the API gives it: its queues a list, as in the center's detail (the
    engine keeps them comma-joined in the window's hash)."""
    return {**view, "queues": [q for q in str(view.get("queues") or "").split(",") if q]}


def _center(request: Request) -> Center:
    return known_center(request, request.path_params["center"])


@api("GET", "/api/v1/centers", "The centers", response=CenterList, auth=False)
async def centers(request: Request) -> Response:
    calendar = request.app.state.calendar
    return json({"centers": [_summary(c, calendar) for c in request.app.state.engine.catalog.centers.values()]})


@api("GET", "/api/v1/centers/{center}", "A center with its queues, windows and service points", response=CenterDetail,
     auth=False, responses={404: "unknown center"})
async def center(request: Request) -> Response:
    c = _center(request)
    return json({
        **_summary(c, request.app.state.calendar),
        "queues": [{"code": q.code, "prefix": q.prefix, "name_zh": q.name_zh, "name_en": q.name_en} for q in c.queues.values()],
        "windows": [{**asdict(w), "queues": list(w.queues), "serves": [
            {"point": a.point, "starts": format_hhmm(a.starts), "ends": format_hhmm(a.ends)}
            for a in c.assignments if a.window == w.code]} for w in c.windows.values()],
        "service_points": [asdict(p) for p in c.service_points.values()],
    })


@api("GET", "/api/v1/matters", "The matter catalog; ?center= adds the queue each matter joins there", response=MatterList,
     auth=False, responses={404: "unknown center"}, query={"center": "a center's code: adds the queue each matter joins there"})
async def matters(request: Request) -> Response:
    catalog = request.app.state.engine.catalog
    code = request.query_params.get("center")
    c = known_center(request, code) if code else None
    out = []
    for m in catalog.matters.values():
        item = {**asdict(m), "materials": list(m.materials)}
        if c is not None:
            q = c.queue_for(m.code, "kiosk")
            item["queue"] = q.code if q else None
        out.append(item)
    return json({"matters": out})


PUBLIC_FIELDS = ("id", "number", "queue", "status", "window")
STAFF_ROLES = ("admin", "manager", "staff")


class PublicQueues:
    """Each center's public queue view, made at most once per ``ttl_s`` in this process whoever asks:
    a snapshot reads every live ticket, so anonymous callers must not each cost one. Callers that
    arrive while it is being made wait for that one."""

    def __init__(self, ttl_s: float = 1.0) -> None:
        self.ttl_s = ttl_s
        self._views: dict[str, tuple[float, asyncio.Future[bytes]]] = {}

    async def get(self, center: str, make: Callable[[], Awaitable[bytes]]) -> bytes:
        now = time.monotonic()
        entry = self._views.get(center)
        if entry is None or entry[0] <= now or (entry[1].done() and entry[1].exception() is not None):
            entry = self._views[center] = (now + self.ttl_s, asyncio.ensure_future(make()))
        return await asyncio.shield(entry[1])   # a caller that goes away does not cancel it for the others


def public_queue(snap: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see of a center's queue: counts, windows and ticket numbers, nothing of a person."""
    return {**snap, "windows": [public_window(w) for w in snap["windows"]],
            "tickets": [{k: t.get(k) for k in PUBLIC_FIELDS} for t in snap["tickets"]]}


@api("GET", "/api/v1/centers/{center}/queue", "Waiting per queue, windows with their tickets, and the cursor: "
     "with a staff, manager or admin token of the center whole tickets; otherwise only their numbers, at most "
     "a second old, rate-limited per address", response=QueueSnapshot, auth=False,
     responses={404: "unknown center", 429: "rate limited"})
async def queue(request: Request) -> Response:
    c = _center(request)
    who = await principal(request, required=False)
    engine = request.app.state.engine
    if who is not None and who.role in STAFF_ROLES and who.may_act_in(c.code):
        snap = await engine.snapshot(c.code)
        return json({"center": c.code, **snap, "windows": [public_window(w) for w in snap["windows"]],
                     "tickets": [public_ticket(t) for t in snap["tickets"]]})
    limit_outsider(request, who)

    async def make() -> bytes:
        return orjson.dumps({"center": c.code, **public_queue(await engine.snapshot(c.code))})

    body = await request.app.state.public_queues.get(c.code, make)
    return Response(body, media_type="application/json")
