"""The hand-over of originals (材料流转): for a ticket whose matter needs originals at the center, the
assistant packs them (a package per ticket, with the items that travel), sends them, the center
receives them, and the point returns them to the resident. Each step moves the package's state by a
conditional UPDATE from the step before, so a step is never skipped or done twice, and of two clerks
receiving at once one wins and the other gets 409; a step of the other side is 403. Every step is a
row (with who and when) and then an event on the center's stream."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import asyncpg
import orjson
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from network.assistant import at_point
from queue_server.api.auth import principal, require
from queue_server.api.endpoints import Endpoints, json, read_body, record_id
from queue_server.api.problems import Problem
from queue_server.api.schemas import Body
from queue_server.api.tickets import limit_outsider
from queue_server.clock import from_ms
from queue_server.domain.materials import STEPS, previous_step, return_overdue, side_of
from queue_server.domain.numbering import center_of

from .access import matter_of, ticket_of

api = Endpoints("materials hand-over")
Step = Literal["packed", "sent", "received", "returned"]


class PackageItem(BaseModel):
    item: int
    name_zh: str
    name_en: str
    form: str
    copies: int


class PackageStep(BaseModel):
    step: Step
    by: str | None = Field(default=None, description="who did it (not in the resident's view)")
    at: int = Field(description="epoch ms")


class PackageView(BaseModel):
    id: int | None = Field(default=None, description="not in the resident's view")
    ticket_id: str
    center: str
    point: str
    state: Step
    items: list[PackageItem]
    steps: list[PackageStep] = Field(description="the steps done, in order")
    return_due_at: int | None = Field(default=None, description="once received: when the originals are due back"
                                      " at the point (received + QUEUE_PACKAGE_RETURN_DAYS), epoch ms")
    return_overdue: bool = Field(description="still at the center past return_due_at")


class StepDone(Body):
    """Empty: who and when come from the token and the clock."""


def _ms(at: datetime | None) -> int | None:
    return int(at.timestamp() * 1000) if at else None


def view(r: asyncpg.Record, now_ms: int, public: bool = False) -> dict[str, Any]:
    steps = [{"step": s, "at": _ms(r[f"{s}_at"]), **({} if public else {"by": r[f"{s}_by"]})}
             for s in STEPS if r[f"{s}_at"] is not None]
    out = {"ticket_id": r["ticket_id"], "center": r["center"], "point": r["point"], "state": r["state"],
           "items": orjson.loads(r["items"]), "steps": steps,
           "return_due_at": _ms(r["return_due_at"]),
           "return_overdue": return_overdue(r["state"], _ms(r["return_due_at"]), now_ms)}
    return out if public else {"id": r["id"], **out}


async def package_of_ticket(pool: asyncpg.Pool, ticket_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM packages WHERE ticket_id = $1", ticket_id)


async def _done(request: Request, r: asyncpg.Record, step: str) -> Response:
    """The step is recorded: tell the center's stream, answer with the package."""
    state = request.app.state
    body = view(r, state.clock.now_ms())
    await state.engine.center_event(r["center"], f"package.{step}", {"package": body})
    return json(body, 201 if step == "packed" else 200)


@api("POST", "/api/v1/points/{point}/tickets/{id}/package", "Pack the originals of a ticket's items that must"
     " travel to the center (step packed, by the point's assistant)", body=StepDone, response=PackageView, status=201,
     responses={403: "not this point's assistant, or a ticket of another point", 404: "no such ticket",
                409: "packed already", 422: "the matter needs no originals at the center"})
async def pack(request: Request) -> Response:
    state = request.app.state
    who, center, code = await at_point(request, {"assistant", "manager"})
    await read_body(request, StepDone)
    ticket = await ticket_of(request, request.path_params["id"])
    if ticket["center"] != center.code or ticket.get("service_point") != code:
        raise Problem(403, "Forbidden", f"ticket {ticket['id']} was not taken at service point {code}", code="other_point")
    travel = [{"item": i.item, "name_zh": i.name_zh, "name_en": i.name_en, "form": i.form, "copies": i.copies}
              for i in matter_of(request, ticket).items if i.to_center]
    if not travel:
        raise Problem(422, "Invalid request", f"{ticket['matter']} needs no originals at the center",
                      errors=[{"field": "matter", "message": "no item travels to the center"}])
    at = from_ms(state.clock.now_ms())
    by = who.actor
    async with state.pool.acquire() as conn, conn.transaction():
        r = await conn.fetchrow(
            "INSERT INTO packages (center, point, ticket_id, items, state, packed_by, packed_at)"
            " VALUES ($1, $2, $3, $4::jsonb, 'packed', $5, $6) ON CONFLICT (ticket_id) DO NOTHING RETURNING *",
            center.code, code, ticket["id"], orjson.dumps(travel).decode(), by, at)
        if r is None:
            raise Problem(409, "Conflict", f"the originals of ticket {ticket['number']} are packed already")
        await conn.execute("INSERT INTO package_steps (package_id, step, by_whom, at) VALUES ($1, 'packed', $2, $3)",
                           r["id"], by, at)
    return await _done(request, r, "packed")


@api("POST", "/api/v1/packages/{id}/{step}", "The next step of a package: sent (the point), received (the center),"
     " returned (the point, to the resident)", body=StepDone, response=PackageView,
     responses={403: "a step of the other side", 404: "no such package or step",
                409: "not the next step: skipped, or done already"})
async def step(request: Request) -> Response:
    state = request.app.state
    who = await principal(request)
    assert who is not None
    raw, name = request.path_params["id"], request.path_params["step"]
    package_id = record_id(raw)
    if name not in STEPS[1:]:
        raise Problem(404, "Not found", f"no step {name[:20]!r}: sent, received or returned")
    found = await state.pool.fetchrow("SELECT center, point, state FROM packages WHERE id = $1", package_id) \
        if package_id is not None else None
    if found is None:
        raise Problem(404, "Not found", f"no package {raw[:20]!r}")
    if side_of(name) == "point":
        require(who, found["center"], {"assistant", "manager"}, point=found["point"])
    else:
        require(who, found["center"], {"staff", "manager"})
    await read_body(request, StepDone)
    at, by = from_ms(state.clock.now_ms()), who.actor
    async with state.pool.acquire() as conn, conn.transaction():
        r = await conn.fetchrow(
            f"UPDATE packages SET state = $2, {name}_by = $3, {name}_at = $4, return_due_at = CASE WHEN $2 = 'received'"
            " THEN $4::timestamptz + make_interval(days => $6::int) ELSE return_due_at END"
            " WHERE id = $1 AND state = $5 RETURNING *",
            package_id, name, by, at, previous_step(name), state.materials.config.return_days)
        if r is None:
            now = await conn.fetchval("SELECT state FROM packages WHERE id = $1", package_id)
            raise Problem(409, "Conflict", f"package {package_id} is {now}: {name} comes after {previous_step(name)}",
                          state=now)
        await conn.execute("INSERT INTO package_steps (package_id, step, by_whom, at) VALUES ($1, $2, $3, $4)",
                           package_id, name, by, at)
    return await _done(request, r, name)


class TicketPackage(BaseModel):
    package: PackageView | None = Field(description="null while the ticket has no package of originals")


@api("GET", "/api/v1/tickets/{id}/package", "Where the resident's originals are (the status page and the receipt's"
     " QR show it): the package's state and the time of each step, without who; null when there is none",
     response=TicketPackage, auth=False, responses={404: "not a ticket id", 429: "rate limited"})
async def public_package(request: Request) -> Response:
    limit_outsider(request, None)
    state = request.app.state
    tid = request.path_params["id"]
    if center_of(tid) not in state.engine.catalog.centers:
        raise Problem(404, "Not found", f"no ticket {tid[:80]!r}")
    r = await package_of_ticket(state.pool, tid)
    return json({"package": view(r, state.clock.now_ms(), public=True)
                 if r else None})


class PackageList(BaseModel):
    packages: list[PackageView] = Field(description="not yet returned, oldest first")


async def _open_packages(request: Request, where: str, *args: Any) -> Response:
    state = request.app.state
    rows = await state.pool.fetch(f"SELECT * FROM packages WHERE state <> 'returned' AND {where} ORDER BY packed_at, id",
                                  *args)
    now_ms = state.clock.now_ms()
    return json({"packages": [view(r, now_ms) for r in rows]})


@api("GET", "/api/v1/centers/{center}/packages", "The center's packages of originals not yet returned (its clerks"
     " receive the sent ones)", response=PackageList, responses={403: "another center, or not staff", 404: "unknown center"})
async def center_packages(request: Request) -> Response:
    center = request.path_params["center"]
    who = await principal(request)
    assert who is not None
    if center not in request.app.state.engine.catalog.centers:
        raise Problem(404, "Not found", f"unknown center {center[:40]!r}")
    require(who, center, {"staff", "manager"})
    return await _open_packages(request, "center = $1", center)


@api("GET", "/api/v1/points/{point}/packages", "The point's packages of originals not yet returned (its assistant"
     " sends them, and returns them to the residents once received)", response=PackageList,
     responses={403: "another point's assistant", 404: "unknown service point"})
async def point_packages(request: Request) -> Response:
    who, center, code = await at_point(request, {"assistant", "manager"})
    return await _open_packages(request, "center = $1 AND point = $2", center.code, code)
