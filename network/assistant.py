"""The assistant at a service point (帮办员): sees the point's queue and the remote clerk serving it,
takes tickets for residents there, and marks a resident present for the clerk. An assistant token is
bound to one point: the point in the path must be its own, a ticket it issues is always at that
point (the body cannot name another), and it acts only on that point's tickets (403 otherwise,
nothing written). A manager of the center, or the admin, may do the same at any of its points."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from queue_server.api.auth import principal, require
from queue_server.api.calendar import require_open
from queue_server.api.endpoints import Endpoints, json, read_body
from queue_server.api.problems import Problem
from queue_server.api.schemas import Body, Code, Phone, Ticket, TicketPosition
from queue_server.api.tickets import position_body
from queue_server.domain.assistant import ASSISTANT_PRIORITIES
from queue_server.domain.catalog import Center
from queue_server.domain.network import local_moment, serving_windows, split_point_id
from queue_server.domain.numbering import center_of
from queue_server.domain.tickets import Channel, public_ticket
from queue_server.record.people import Principal

from .sockets import point_snapshot

api = Endpoints("service point assistant")
ASSISTANTS = {"manager", "assistant"}


class AssistantIssue(Body):
    matter: Code
    priority: Literal[ASSISTANT_PRIORITIES] = "normal"  # type: ignore[valid-type]
    phone: Phone | None = Field(default=None, description="mainland mobile number, for SMS; never shown in full")


class ServingWindow(BaseModel):
    id: str
    name_zh: str | None = None
    name_en: str | None = None
    state: str | None = None
    staff_name: str | None = Field(default=None, description="the clerk on duty")
    staff_no: str | None = None


class PointQueue(BaseModel):
    point: dict[str, Any] = Field(description="id, code, names, kind and status of the point")
    waiting: int = Field(description="the point's own waiting count")
    tickets: list[Ticket] = Field(description="the point's live tickets (waiting, called, serving, paused), oldest first")
    windows: list[ServingWindow] = Field(description="the remote windows assigned to the point now, with their clerk")


async def at_point(request: Request, roles: set[str] | frozenset[str] = frozenset(ASSISTANTS)
                   ) -> tuple[Principal, Center, str]:
    """Who acts, at which center and point: the path's ``{point}`` must exist (404) and the caller be
    one of ``roles`` there (403; an assistant only at its own point)."""
    center_code, code = split_point_id(request.path_params["point"])
    who = await principal(request)
    assert who is not None
    center = request.app.state.engine.catalog.centers.get(center_code)
    if center is None or code not in center.service_points:
        raise Problem(404, "Not found", f"unknown service point {request.path_params['point'][:80]!r}")
    require(who, center_code, roles, point=code)
    return who, center, code



@api("GET", "/api/v1/points/{point}/queue", "The point's queue: its live tickets and the remote windows serving it"
     " now with their clerk ({point} is center-code)", response=PointQueue,
     responses={403: "another point's assistant, or not an assistant", 404: "unknown service point"})
async def point_queue(request: Request) -> Response:
    _, center, code = await at_point(request)
    state = request.app.state
    now_windows = frozenset(serving_windows(center.assignments, code, local_moment(state.clock.now_ms(), center.timezone)))
    p = center.service_points[code]
    info = {"id": request.path_params["point"], "code": code, "name_zh": p.name_zh, "name_en": p.name_en,
            "kind": p.kind, "status": p.status}
    snap = point_snapshot(await state.engine.snapshot(center.code), code, now_windows, info)
    tickets = sorted((public_ticket(t) for t in snap["tickets"]), key=lambda t: (t.get("sort_at") or 0, t["id"]))
    return json({"point": info, "waiting": snap["waiting"][code], "tickets": tickets, "windows": snap["windows"]})


@api("POST", "/api/v1/points/{point}/tickets", "Take a ticket for a resident at the point (channel service_point;"
     " the point is the token's own)", body=AssistantIssue, response=TicketPosition, status=201,
     responses={200: "the same Idempotency-Key was seen before: the first ticket again",
                403: "another point's assistant, or not an assistant", 404: "unknown service point",
                409: "the point is closed, not active, or no remote window serves it now",
                422: "invalid field, or a matter not handled remotely", 503: "Redis away or restoring"})
async def issue_at_point(request: Request) -> Response:
    who, center, code = await at_point(request)
    body = await read_body(request, AssistantIssue)
    key = request.headers.get("idempotency-key")
    if key is not None and not (1 <= len(key) <= 128 and key.isprintable()):
        raise Problem(422, "Invalid request", "Idempotency-Key must be 1-128 printable characters",
                      errors=[{"field": "Idempotency-Key", "message": "invalid"}])
    await require_open(request, who, center.code, Channel.SERVICE_POINT, code, key)
    pos = await request.app.state.engine.issue(center.code, body.matter, Channel.SERVICE_POINT, body.priority,
                                               body.phone, code, None, key)
    return json(position_body(pos), 200 if pos.duplicate else 201)


@api("POST", "/api/v1/points/{point}/tickets/{id}/present", "Mark the resident of one of the point's tickets present"
     " for the remote clerk (在场): a ticket.present event once; marking again changes nothing", body=Body,
     response=Ticket, responses={403: "a ticket of another point or of the hall, or not this point's assistant",
                                 404: "no such ticket", 409: "the ticket is no longer waiting or called"})
async def mark_present(request: Request) -> Response:
    who, center, code = await at_point(request)
    await read_body(request, Body)
    ticket_id = request.path_params["id"]
    if center_of(ticket_id) != center.code:
        raise Problem(403, "Forbidden", f"ticket {ticket_id[:80]!r} was not taken at service point {code}",
                      code="other_point")
    result = await request.app.state.engine.mark_present(ticket_id, code, who.actor)
    return json(public_ticket(result["ticket"]))
