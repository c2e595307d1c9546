"""The opening calendar as a component: read whole from PostgreSQL at start and again whenever hours
or the operator's calendar file change anywhere (published on ``keys.calendar_changes()``, so every
instance takes it within a second, without a restart), the endpoints that show and set hours, and the
check that refuses a resident's ticket outside them."""
from __future__ import annotations

import asyncio
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from ..clock import from_ms
from ..domain.calendar import Calendar, Hours, HoursError, Opening, opening_text
from ..domain.tickets import Channel
from ..engine.channels import follow
from ..record.calendar import load_calendar, store_hours
from ..record.people import Principal
from ..supervisor import Supervisor
from .auth import principal, require
from .endpoints import Endpoints, json, read_body
from .problems import Problem
from .schemas import Body

api = Endpoints("calendar")

ClockTime = Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}$")]
Span = Annotated[list[ClockTime], Field(min_length=2, max_length=2, description='["opens", "closes"], e.g. ["08:30", "16:30"]; null: closed')]


class OpeningHours(Body):
    """A place's weekly hours; a weekday's key (mon..sun) overrides its ordinary days. An empty body:
    no hours (a point: its center's; a center: not enforced)."""
    weekdays: Span | None = Field(None, description="working days, an adjusted workday (调休) too")
    weekends_holidays: Span | None = Field(None, description="weekends and public holidays")
    mon: Span | None = None
    tue: Span | None = None
    wed: Span | None = None
    thu: Span | None = None
    fri: Span | None = None
    sat: Span | None = None
    sun: Span | None = None
    always_open: bool = Field(False, description="a 24-hour self-service point")


class PlaceOpening(BaseModel):
    center: str
    point: str | None
    hours: dict[str, Any]
    open: bool
    closes_at: str | None = Field(description="when open: the end of today's hours (ISO 8601)")
    next_opening_at: str | None = Field(description="ISO 8601 in the center's offset (+08:00); null when open or not within a year")
    next_opening: str | None = Field(description="the same as a person reads it, Shanghai time, Chinese / English")
    reason: str = Field(description="why today is special: a local entry's reason, a holiday's name")


def opening_body(o: Opening) -> dict:
    return {"open": o.open, "closes_at": o.closes.isoformat() if o.closes else None,
            "next_opening_at": o.next_opening.isoformat() if o.next_opening else None,
            "next_opening": opening_text(o.next_opening) if o.next_opening else None, "reason": o.reason}


async def require_open(request: Request, who: Principal, center: str, channel: str, point: str | None,
                       idempotency_key: str | None) -> None:
    """Refuse a resident's ticket outside the place's hours (409 with when it opens), before anything
    is written. Staff issuing on the staff channel are not held to the hours; nor is the retry of an
    issue that got its ticket before closing time (its key is known): it gets that ticket again."""
    if channel == Channel.STAFF and who.role != "device":
        return
    state = request.app.state
    opening = state.calendar.opening(center, from_ms(state.clock.now_ms()), point)
    if opening.open or (idempotency_key and await state.redis.exists(state.keys.idempotency(center, idempotency_key))):
        return
    when = f"; opens {opening_text(opening.next_opening)}" if opening.next_opening else ""
    raise Problem(409, "Closed", f"{center}{'/' + point if point else ''} is closed now{when}",
                  code="closed", **opening_body(opening))


def _place(request: Request) -> tuple[str, str | None]:
    center = request.app.state.engine.catalog.centers.get(request.path_params["center"])
    if center is None:
        raise Problem(404, "Not found", f"unknown center {request.path_params['center']!r}")
    point = request.path_params.get("point") or request.query_params.get("point")
    if point is not None and point not in center.service_points:
        raise Problem(404, "Not found", f"unknown service point {point!r} at {center.code}")
    return center.code, point


@api("GET", "/api/v1/centers/{center}/opening", "Hours of a center or (?point=) a service point, open now, next opening",
     response=PlaceOpening, auth=False, responses={404: "unknown center or point"},
     query={"point": "a service point's code: its hours instead of the center's"})
async def opening(request: Request) -> Response:
    return _opening_of(request, *_place(request))


def _opening_of(request: Request, center: str, point: str | None) -> Response:
    calendar: Calendar = request.app.state.calendar
    now = from_ms(request.app.state.clock.now_ms())
    return json({"center": center, "point": point, "hours": calendar.hours_of(center, point).to_json(),
                 **opening_body(calendar.opening(center, now, point))})


async def _set_hours(request: Request) -> Response:
    center, point = _place(request)
    who = await principal(request)
    assert who is not None
    require(who, center, {"manager"})
    body = await read_body(request, OpeningHours)
    try:
        hours = Hours.parse(body.model_dump(exclude_unset=True))
    except HoursError as exc:
        raise Problem(422, "Invalid request", exc.message, errors=[{"field": exc.field, "message": exc.message}]) from None
    await store_hours(request.app.state.pool, center, point, hours)
    await changed(request.app)
    return _opening_of(request, center, point)


api("PUT", "/api/v1/centers/{center}/hours", "Set a center's weekly hours (manager)", body=OpeningHours,
    response=PlaceOpening, responses={404: "unknown center", 422: "hours that cannot be"})(_set_hours)
api("PUT", "/api/v1/centers/{center}/points/{point}/hours",
    "Set a service point's own hours (manager); an empty body: back to its center's", body=OpeningHours,
    response=PlaceOpening, responses={404: "unknown center or point", 422: "hours that cannot be"})(_set_hours)


async def reload(app: Starlette) -> None:
    """Swap the stored calendar in, in place: every holder (the ticket check, the deadlines) sees it.
    One load at a time: a listener's load begun before a change was stored must not land after the
    changing request's own, fresher one (the change would vanish here until the next reload)."""
    async with app.state.calendar_loading:
        app.state.calendar.take(await load_calendar(app.state.pool))


async def changed(app: Starlette) -> None:
    """This instance changed the calendar: take it at once, then tell the others."""
    await reload(app)
    await app.state.redis.publish(app.state.keys.calendar_changes(), b"hours")


async def listen(app: Starlette, work: Supervisor) -> None:
    """Reload on every message of the calendar channel, and on every (re)subscription, so a change
    published while this instance was not listening is not missed."""
    state = app.state
    await follow(state.settings, state.keys.calendar_changes(), "calendar-changes", work.stop,
                 on_message=lambda _: reload(app), on_subscribed=lambda: reload(app))


class CalendarComponent:
    routes = api.routes
    docs = api.docs

    async def start(self, app: Starlette, work: Supervisor) -> None:
        app.state.calendar = await load_calendar(app.state.pool)
        app.state.calendar_loading = asyncio.Lock()
        work.run("calendar-changes", lambda: listen(app, work))


component = CalendarComponent()
