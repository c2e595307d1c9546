"""The appointments API: managers open slots within the calendar's hours and set their capacity;
residents see the free places, book one with a verified number, look their booking up and cancel it
by its code; the kiosk (or a clerk) checks a booking in by its code, typed or scanned from its QR,
which issues its appointment ticket."""
from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import segno
from pydantic import AwareDatetime, BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from queue_server.api.auth import principal, require
from queue_server.api.endpoints import Doc, Endpoints, json, known_center, read_body, record_id
from queue_server.api.problems import Problem
from queue_server.api.schemas import Body, Code, Phone, TicketPosition
from queue_server.api.tickets import limit_outsider, position_body
from queue_server.clock import from_ms
from queue_server.domain.appointments import CODE_ALPHABET, CODE_LENGTH, CheckIn, check_in_window, normal_code, slot_problem
from queue_server.domain.tickets import Channel, Priority, mask_phone

from . import store
from .config import AppointmentsConfig
from .verify import verify_number

api = Endpoints("appointments")
SHANGHAI = ZoneInfo("Asia/Shanghai")
REFUSALS = {"slot_full": 409, "already_booked": 409, "slot_started": 409, "illegal_transition": 409,
            "below_taken": 409, "slot_exists": 409, "not_found": 404, "code_clash": 503}


class NewSlot(Body):
    queue: Code = Field(description="the line the slot's tickets join (the center's appointment line)")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int = Field(ge=1, le=500)


class Capacity(Body):
    capacity: int = Field(ge=1, le=500)


class Slot(BaseModel):
    id: int
    center: str
    queue: str
    starts_at: str
    ends_at: str
    capacity: int
    taken: int
    left: int


class SlotList(BaseModel):
    center: str
    date: str
    slots: list[Slot]


class NewBooking(Body):
    slot: int = Field(ge=1)
    matter: Code
    phone: Phone
    code: str = Field(pattern=r"^\d{4,8}$", description="the one-time code the SMS to ``phone`` carried")


class CheckInRequest(Body):
    code: str = Field(min_length=1, max_length=40, description="the booking code, typed or scanned from its QR")


class Appointment(BaseModel):
    code: str = Field(description="the booking code: typed at the kiosk or scanned from its QR to check in")
    status: str = Field(description="booked, cancelled, checked_in or released")
    center: str
    queue: str
    matter: str
    starts_at: str
    ends_at: str
    phone_masked: str | None
    ticket_id: str | None
    qr_url: str


class CheckedIn(BaseModel):
    appointment: Appointment
    ticket: TicketPosition


def _config(request: Request) -> AppointmentsConfig:
    return request.app.state.appointments.config


def _now(request: Request) -> datetime:
    return from_ms(request.app.state.clock.now_ms())


def refused(exc: store.Refused) -> Problem:
    return Problem(REFUSALS.get(exc.code, 409), "Refused", exc.message, code=exc.code)


def _booking_code(raw: str) -> str:
    code = normal_code(raw)
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        raise Problem(404, "Not found", "no such booking")
    return code


def view(request: Request, b: dict[str, Any]) -> dict[str, Any]:
    phone = request.app.state.personal.open(b["phone"])
    return {"code": b["code"], "status": b["status"], "center": b["center"], "queue": b["queue"], "matter": b["matter"],
            "starts_at": b["starts_at"].astimezone(SHANGHAI).isoformat(), "ends_at": b["ends_at"].astimezone(SHANGHAI).isoformat(),
            "phone_masked": mask_phone(phone), "ticket_id": b.get("ticket_id"),
            "qr_url": f"/api/v1/appointments/{b['code']}/qr.svg"}


def _slot_out(s: dict[str, Any]) -> dict[str, Any]:
    return {**s, "starts_at": datetime.fromisoformat(s["starts_at"]).astimezone(SHANGHAI).isoformat(),
            "ends_at": datetime.fromisoformat(s["ends_at"]).astimezone(SHANGHAI).isoformat()}


@api("POST", "/api/v1/centers/{center}/appointment-slots", "Open an appointment slot (manager)", body=NewSlot,
     response=Slot, status=201, responses={403: "only the center's manager or an admin", 404: "unknown center",
                                           409: "a slot of that line already begins then",
                                           422: "unknown line, or the slot is not within the calendar's hours"})
async def open_slot(request: Request) -> Response:
    who = await principal(request)
    assert who is not None
    center = known_center(request, request.path_params["center"])
    require(who, center.code, {"manager"})
    body = await read_body(request, NewSlot)
    if body.queue not in center.queues:
        raise Problem(422, "Invalid request", f"{body.queue!r} is not a line of {center.code}",
                      errors=[{"field": "queue", "message": "unknown"}])
    problem = slot_problem(body.starts_at, body.ends_at, request.app.state.calendar.opening(center.code, body.starts_at), _now(request))
    if problem:
        raise Problem(422, "Invalid request", problem, errors=[{"field": "starts_at", "message": problem}])
    try:
        made = await store.create_slot(request.app.state.pool, center.code, body.queue, body.starts_at, body.ends_at, body.capacity)
    except store.Refused as exc:
        raise refused(exc) from None
    return json(_slot_out(made), 201)


@api("GET", "/api/v1/centers/{center}/appointment-slots", "A day's appointment slots of a center with their free "
     "places (?date=YYYY-MM-DD, Shanghai; default today)", response=SlotList, auth=False,
     responses={404: "unknown center", 422: "date is not YYYY-MM-DD", 429: "rate limited"},
     query={"date": "the day, YYYY-MM-DD in Shanghai; today by default"})
async def list_slots(request: Request) -> Response:
    limit_outsider(request, None)
    center = known_center(request, request.path_params["center"])
    raw = request.query_params.get("date")
    try:
        day = date.fromisoformat(raw) if raw else _now(request).astimezone(SHANGHAI).date()
    except ValueError:
        raise Problem(422, "Invalid request", "date must be YYYY-MM-DD", errors=[{"field": "date", "message": "not a date"}]) from None
    since = datetime.combine(day, time(), SHANGHAI)
    found = await store.slots_of(request.app.state.pool, center.code, since, since + timedelta(days=1))
    return json({"center": center.code, "date": day.isoformat(), "slots": [_slot_out(s) for s in found]})


@api("PATCH", "/api/v1/appointment-slots/{id}", "Change a slot's capacity (manager); never below the places taken",
     body=Capacity, response=Slot, responses={403: "only the center's manager or an admin", 404: "no such slot",
                                              409: "below the places already taken"})
async def change_capacity(request: Request) -> Response:
    who = await principal(request)
    assert who is not None
    slot_id = record_id(request.path_params["id"])
    found = await store.slot(request.app.state.pool, slot_id) if slot_id is not None else None
    if found is None:
        if who.role not in ("admin", "manager"):
            raise Problem(403, "Forbidden", f"a {who.role} token may not do this")
        raise Problem(404, "Not found", "no such slot")
    require(who, found["center"], {"manager"})
    body = await read_body(request, Capacity)
    try:
        return json(_slot_out(await store.set_capacity(request.app.state.pool, found["id"], body.capacity)))
    except store.Refused as exc:
        raise refused(exc) from None


@api("POST", "/api/v1/appointments", "Book a place in a slot with a number verified by its SMS code (one per number "
     "and slot)", body=NewBooking, response=Appointment, status=201, auth=False,
     responses={404: "no such slot", 409: "the slot is full or has begun, or the number already holds a place in it",
                422: "invalid field, a matter the slot's line does not take, or the code is wrong, expired or used",
                429: "rate limited", 503: "Redis or PostgreSQL away"})
async def book(request: Request) -> Response:
    limit_outsider(request, None)
    body = await read_body(request, NewBooking)
    state = request.app.state
    found = await store.slot(state.pool, body.slot)
    if found is None:
        raise Problem(404, "Not found", f"no slot {body.slot}")
    center = known_center(request, found["center"])
    line = center.queue_for(body.matter, Channel.APPOINTMENT) if body.matter in state.engine.catalog.matters else None
    if line is None or line.code != found["queue"]:
        raise Problem(422, "Invalid request", f"matter {body.matter!r} is not taken by this slot's line",
                      errors=[{"field": "matter", "message": "not taken by the slot's line"}])
    now = _now(request)
    if found["left"] <= 0 or datetime.fromisoformat(found["starts_at"]) <= now:   # before the code is used up
        raise refused(store.Refused("slot_full" if found["left"] <= 0 else "slot_started", "this slot can no longer be booked"))
    await verify_number(request, center, body.phone, body.code)
    try:
        made = await store.book(state.pool, body.slot, body.matter, state.personal.seal(body.phone),
                                state.personal.lookup(body.phone), now)
    except store.Refused as exc:
        raise refused(exc) from None
    return json(view(request, {**made, "center": found["center"], "queue": found["queue"],
                               "starts_at": datetime.fromisoformat(found["starts_at"]),
                               "ends_at": datetime.fromisoformat(found["ends_at"])}), 201)


@api("GET", "/api/v1/appointments/{code}", "A booking by its code (public: whoever holds the code)", response=Appointment,
     auth=False, responses={404: "no such booking", 429: "rate limited"})
async def get_booking(request: Request) -> Response:
    limit_outsider(request, None)
    found = await store.find(request.app.state.pool, _booking_code(request.path_params["code"]))
    if found is None:
        raise Problem(404, "Not found", "no such booking")
    return json(view(request, found))


@api("POST", "/api/v1/appointments/{code}/cancel", "Cancel a booking by its code: its place is free again",
     response=Appointment, auth=False, responses={404: "no such booking", 409: "not booked (cancelled, checked in, released)",
                                                 429: "rate limited"})
async def cancel(request: Request) -> Response:
    limit_outsider(request, None)
    try:
        return json(view(request, await store.cancel(request.app.state.pool, _booking_code(request.path_params["code"]),
                                                     _now(request))))
    except store.Refused as exc:
        raise refused(exc) from None


@api("POST", "/api/v1/appointments/check-in", "Check a booking in (the center's kiosk, staff or manager): issues its "
     "appointment ticket, once", body=CheckInRequest, response=CheckedIn, status=201,
     responses={200: "checked in before: the same ticket", 403: "a token of another center, or not a kiosk",
                404: "no such booking", 409: "too early (opens_at), released or cancelled", 429: "rate limited"})
async def check_in(request: Request) -> Response:
    who = await principal(request)
    assert who is not None
    limit_outsider(request, who)
    body = await read_body(request, CheckInRequest)
    state, cfg, now = request.app.state, _config(request), _now(request)
    code = _booking_code(body.code)
    found = await store.find(state.pool, code)
    if found is None:
        raise Problem(404, "Not found", "no such booking")
    require(who, found["center"], {"manager", "staff", "device"}, device_kinds={"kiosk"})

    def allowed(b: dict[str, Any]) -> None:
        window = check_in_window(now, b["starts_at"], cfg.early_s, cfg.grace_s)
        if window is CheckIn.EARLY:
            opens = (b["starts_at"] - timedelta(seconds=cfg.early_s)).astimezone(SHANGHAI)
            raise Problem(409, "Too early", f"check-in opens at {opens:%H:%M}", code="too_early", opens_at=opens.isoformat())
        if window is CheckIn.LATE:
            raise Problem(409, "Too late", "the grace period is over: the booking is released", code="released")

    async def issue(b: dict[str, Any]) -> str:
        pos = await state.engine.issue(b["center"], b["matter"], Channel.APPOINTMENT, Priority.APPOINTMENT,
                                       state.personal.open(b["phone"]), None, int(b["starts_at"].timestamp() * 1000),
                                       f"appointment-{b['id']}")
        return str(pos.ticket["id"])

    try:
        booking, first = await store.check_in(state.pool, code, now, allowed, issue)
    except store.Refused as exc:
        raise refused(exc) from None
    pos = await state.engine.ticket(booking["ticket_id"])
    return json({"appointment": view(request, booking), "ticket": position_body(pos)}, 201 if first else 200)


async def qr(request: Request) -> Response:
    """The booking's QR: its code, which the kiosk's scanner types into the check-in field."""
    limit_outsider(request, None)
    code = _booking_code(request.path_params["code"])
    out = io.BytesIO()
    segno.make(code, error="m").save(out, kind="svg", scale=6, border=2, xmldecl=False)
    return Response(out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


api.routes.append(Route("/api/v1/appointments/{code}/qr.svg", qr, methods=["GET"]))
api.docs.append(Doc("GET", "/api/v1/appointments/{code}/qr.svg", "A booking's QR code (SVG) carrying its code",
                    None, None, 200, False, "appointments", {404: "not a booking code", 429: "rate limited"}))

