"""Ticket endpoints: issue, look up, and every action of the life cycle."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..domain.numbering import center_of
from ..domain.tickets import public_ticket
from ..engine.queue_engine import Position
from ..record.people import Principal
from .auth import principal, require, require_queue_action
from .calendar import require_open
from .endpoints import Doc, Endpoints, json, read_body
from .problems import Problem
from .schemas import IssueTicket, Ticket, TicketAction, TicketPosition, Transfer

api = Endpoints("tickets")
ACTIONS = ("recall", "start", "finish", "no-show", "transfer", "pause", "resume", "cancel")


def position_body(p: Position) -> dict:
    return {**public_ticket(p.ticket), "ahead": p.ahead, "estimated_wait_s": p.estimated_wait_s}


def limit_outsider(request: Request, who: Principal | None) -> None:
    """Devices and anonymous callers are rate-limited; staff and managers are trusted. A device is
    keyed on its token's hash, not on how the token was sent: every spelling of the header and
    ``?token=`` are one device, and devices sending ``?token=`` each have their own bucket."""
    if who is None:
        request.app.state.limiter.check(f"ip:{request.client.host if request.client else '-'}")
    elif who.role == "device":
        request.app.state.limiter.check(f"dev:{request.state.token_hash}")


@api("POST", "/api/v1/centers/{center}/tickets", "Issue a ticket", body=IssueTicket, response=TicketPosition, status=201,
     responses={200: "the same Idempotency-Key was seen before: the first ticket again", 404: "unknown center",
                409: "outside the place's opening hours: next_opening_at says when it opens", 422: "invalid field",
                429: "rate limited",
                503: "Redis away or restoring; or the number reserve ran out while PostgreSQL is away; or, with "
                     "QUEUE_DURABILITY=record, not recorded yet (the ticket may exist: retry with the same "
                     "Idempotency-Key) — Retry-After says when"})
async def issue(request: Request) -> Response:
    center = request.path_params["center"]
    who = await principal(request)
    assert who is not None
    require(who, center, {"manager", "staff", "device"}, device_kinds={"kiosk"}, point=who.point)
    limit_outsider(request, who)
    body = await read_body(request, IssueTicket)
    if who.point is not None and body.service_point != who.point:   # a point's kiosk issues at its point only
        raise Problem(403, "Forbidden", f"the token belongs to service point {who.point}")
    key = request.headers.get("idempotency-key")
    if key is not None and not (1 <= len(key) <= 128 and key.isprintable()):
        raise Problem(422, "Invalid request", "Idempotency-Key must be 1-128 printable characters",
                      errors=[{"field": "Idempotency-Key", "message": "invalid"}])
    engine = request.app.state.engine
    if center not in engine.catalog.centers:
        raise Problem(404, "Not found", f"unknown center {center!r}")
    if (body.channel == "service_point") != (body.service_point is not None):
        raise Problem(422, "Invalid request", "service_point goes with, and only with, channel service_point",
                      errors=[{"field": "service_point", "message": "required with channel service_point, else absent"}])
    await require_open(request, who, center, body.channel, body.service_point, key)
    appointment_ms = int(body.appointment_at.timestamp() * 1000) if body.appointment_at else None
    pos = await engine.issue(center, body.matter, body.channel, body.priority, body.phone, body.service_point,
                             appointment_ms, key)
    return json(position_body(pos), 200 if pos.duplicate else 201)


@api("GET", "/api/v1/tickets/{id}", "A ticket with its live position (public: the resident's status page)",
     response=TicketPosition, auth=False,
     responses={404: "no such ticket (or one of an earlier day)",
                503: "Redis no longer holds the ticket and the record (PostgreSQL) is away: Retry-After"})
async def get_ticket(request: Request) -> Response:
    limit_outsider(request, None)
    pos = await request.app.state.engine.ticket(request.path_params["id"])
    return json(position_body(pos))


async def _act(request: Request) -> Response:
    ticket_id: str = request.path_params["id"]
    action: str = request.path_params["action"]
    if action not in ACTIONS:
        raise Problem(404, "Not found", f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    engine = request.app.state.engine
    who = await principal(request)
    assert who is not None
    center = center_of(ticket_id)
    if center not in engine.catalog.centers:
        raise Problem(404, "Not found", f"ticket {ticket_id!r} not found")
    require_queue_action(who, action, center)
    acting = who.window if who.role == "staff" else None
    if action == "transfer":
        t = await read_body(request, Transfer)
        result = await engine.transfer(ticket_id, t.to_queue, t.to_window, acting, t.reason or "")
    elif action == "recall":
        await read_body(request, TicketAction)
        result = await engine.recall(ticket_id, acting)
    else:
        a = await read_body(request, TicketAction)
        extra = {"reason": a.reason} if a.reason else {}
        result = await engine.act(ticket_id, action, acting, extra=extra)
    return json(public_ticket(result["ticket"]))


api.routes.append(Route("/api/v1/tickets/{id}/{action}", _act, methods=["POST"]))
api.docs.extend(
    Doc("POST", f"/api/v1/tickets/{{id}}/{action}", f"Ticket action: {action}",
        Transfer if action == "transfer" else TicketAction, Ticket, 200, True, "tickets",
        {403: "another center; a ticket a clerk's window neither holds nor serves the line of; a clerk's token without a"
                 " window; an auditor", 404: "no such ticket", 409: "not allowed in the ticket's current state"})
    for action in ACTIONS
)
