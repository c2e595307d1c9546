"""Scheduled device inspections (巡检): each center sets how often each kind of device is inspected;
the inspector walking the hall sees which devices are due or overdue, answers the kind's checklist
item by item, and records it. One inspection per device per due period: an inspection names the one
it follows, unique per device in PostgreSQL, so of two inspectors racing for the same due inspection
one records it (201) and the other is told it is done (409). A failed item is announced as
``device.inspection_failed`` on the center's stream, for the dashboard and whoever repairs it."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import asyncpg
import orjson
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from ..api.auth import principal, require
from ..api.endpoints import Endpoints, json, known_center, read_body
from ..api.problems import Problem
from ..api.schemas import Body, Code, ShortText
from ..domain.devices import (CHECKLIST, DEFAULT_INTERVAL_DAYS, KINDS, checklist_refusal, inspection_status,
                              inspection_window)
from .api import find_device

api = Endpoints("devices")
INSPECTORS = {"manager", "staff"}


class InspectionItem(BaseModel):
    item: str
    zh: str
    en: str


class KindSchedule(BaseModel):
    kind: str
    interval_days: int
    checklist: list[InspectionItem]


class InspectionSchedule(BaseModel):
    center: str
    kinds: list[KindSchedule]


class InspectionInterval(Body):
    interval_days: int = Field(ge=1, le=366, description="inspect each device of this kind every this many days")


class DueDevice(BaseModel):
    device: str
    kind: str
    label: str
    window: str | None
    point: str | None
    status: str = Field(description="ok (not yet due), due or overdue")
    due_from: int = Field(description="ms since the epoch the inspection became due")
    overdue_from: int = Field(description="ms since the epoch it is overdue")
    last_inspected_at: int | None
    last_passed: bool | None
    checklist: list[InspectionItem]
    follows: int = Field(description="the last inspection's id (0: none), to send back with this device's inspection")


class DueList(BaseModel):
    center: str
    due: int
    overdue: int
    devices: list[DueDevice] = Field(description="the due and overdue devices, most overdue first")


class InspectionAnswer(Body):
    item: Code
    passed: bool
    note: ShortText = ""


class NewInspection(Body):
    items: list[InspectionAnswer] = Field(min_length=1, max_length=20)
    result: str = Field(pattern="^(pass|fail)$", description="pass or fail overall")
    note: ShortText = ""
    follows: int | None = Field(default=None, ge=0, le=2**62, description=(
        "the device's `follows` in the due list the inspector worked from: recorded only while it is still"
        " the last inspection (409 once another inspector's, even a failed one, is in)"))


class Inspection(BaseModel):
    id: int
    device: str
    passed: bool
    items: list[dict[str, Any]]
    note: str
    inspector: str
    inspected_at: int = Field(description="ms since the epoch")


class InspectionHistory(BaseModel):
    device: str
    inspections: list[Inspection]


def _checklist(kind: str) -> list[dict[str, str]]:
    return [{"item": code, "zh": zh, "en": en} for code, zh, en in CHECKLIST[kind]]


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _inspection(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "device": row["device"], "passed": row["passed"], "items": orjson.loads(row["items"]),
            "note": row["note"], "inspector": row["inspector"], "inspected_at": _ms(row["inspected_at"])}


async def intervals(conn: asyncpg.Pool | asyncpg.Connection, center: str) -> dict[str, int]:
    """Every kind's interval at ``center``: its own row, else the default."""
    rows = await conn.fetch("SELECT kind, interval_days FROM inspection_schedules WHERE center = $1", center)
    return {**dict.fromkeys(KINDS, DEFAULT_INTERVAL_DAYS), **{r["kind"]: r["interval_days"] for r in rows}}


async def _center(request: Request, roles: set[str]) -> str:
    who = await principal(request)
    assert who is not None
    code = request.path_params["center"]
    require(who, code, roles)
    return known_center(request, code).code


@api("GET", "/api/v1/centers/{center}/inspections/schedule", "How often each kind of device is inspected, with its checklist",
     response=InspectionSchedule, responses={403: "only the center's staff and manager", 404: "unknown center"})
async def schedule(request: Request) -> Response:
    code = await _center(request, INSPECTORS)
    every = await intervals(request.app.state.pool, code)
    return json({"center": code, "kinds": [{"kind": k, "interval_days": every[k], "checklist": _checklist(k)}
                                           for k in KINDS]})


@api("PUT", "/api/v1/centers/{center}/inspections/schedule/{kind}", "Set how often this kind of device is inspected",
     body=InspectionInterval, response=KindSchedule,
     responses={403: "only the center's manager", 404: "unknown center or kind"})
async def set_interval(request: Request) -> Response:
    code = await _center(request, {"manager"})
    kind = request.path_params["kind"]
    if kind not in CHECKLIST:
        raise Problem(404, "Not found", f"unknown device kind {kind!r}")
    body = await read_body(request, InspectionInterval)
    await request.app.state.pool.execute(
        "INSERT INTO inspection_schedules (center, kind, interval_days) VALUES ($1, $2, $3)"
        " ON CONFLICT (center, kind) DO UPDATE SET interval_days = EXCLUDED.interval_days", code, kind, body.interval_days)
    return json({"kind": kind, "interval_days": body.interval_days, "checklist": _checklist(kind)})


async def due_devices(pool: asyncpg.Pool, center: str, now_ms: int, device: str | None = None) -> list[dict[str, Any]]:
    """Every registered device of ``center`` (or only ``device``) with its inspection status as of
    ``now_ms``, most overdue first; ``follows`` is the last inspection's id (0: none), read in the
    same statement as the status, so a recording based on it is refused if another got in first."""
    every = await intervals(pool, center)
    rows = await pool.fetch(
        "SELECT d.id, d.kind, d.label, d.window_code, d.point, d.created_at, i.id AS last_id, i.inspected_at, i.passed"
        " FROM devices d LEFT JOIN LATERAL (SELECT id, inspected_at, passed FROM device_inspections"
        " WHERE device = d.id ORDER BY id DESC LIMIT 1) i ON true WHERE d.center = $1 AND ($2::text IS NULL OR d.id = $2)",
        center, device)
    out = []
    for r in rows:
        inspected = r["inspected_at"] is not None
        # registered by PostgreSQL's clock: never later than now by the app's (an injected clock may lag it)
        since = _ms(r["inspected_at"]) if inspected else min(_ms(r["created_at"]), now_ms)
        due, overdue = inspection_window(since, every[r["kind"]], inspected, bool(r["passed"]))
        out.append({"device": r["id"], "kind": r["kind"], "label": r["label"], "window": r["window_code"],
                    "point": r["point"], "status": inspection_status(now_ms, due, overdue), "due_from": due,
                    "overdue_from": overdue, "last_inspected_at": since if inspected else None,
                    "last_passed": r["passed"], "checklist": _checklist(r["kind"]), "follows": r["last_id"] or 0})
    return sorted(out, key=lambda d: (d["overdue_from"], d["device"]))


@api("GET", "/api/v1/centers/{center}/inspections/due", "The center's devices due or overdue for inspection",
     response=DueList, responses={403: "only the center's staff and manager", 404: "unknown center"})
async def due(request: Request) -> Response:
    code = await _center(request, INSPECTORS)
    state = request.app.state
    found = [d for d in await due_devices(state.pool, code, state.clock.now_ms()) if d["status"] != "ok"]
    return json({"center": code, "due": sum(d["status"] == "due" for d in found),
                 "overdue": sum(d["status"] == "overdue" for d in found), "devices": found})


def _recorded_by_another(device: str) -> Problem:
    """Another inspector's inspection is in since this one's due list was read, or lands as it commits."""
    return Problem(409, "Conflict", f"this due inspection of {device} was just recorded by another inspector")


@api("POST", "/api/v1/devices/{device}/inspections", "Record the device's due inspection, item by item",
     body=NewInspection, response=Inspection, status=201,
     responses={403: "only the center's staff and manager", 404: "unknown device",
                409: "not due yet, or another inspector recorded this due inspection first",
                422: "items not the kind's checklist, or a pass with a failed item",
                503: "Redis or PostgreSQL unavailable: nothing recorded"})
async def record(request: Request) -> Response:
    device = await find_device(request, INSPECTORS)
    body = await read_body(request, NewInspection)
    items = {i.item: i.passed for i in body.items}
    if len(items) != len(body.items):
        raise Problem(422, "Invalid request", "an item answered twice",
                      errors=[{"field": "items", "message": "each item once"}])
    refusal = checklist_refusal(device["kind"], items, body.result == "pass")
    if refusal is not None:
        raise Problem(422, "Invalid request", refusal[1], errors=[{"field": refusal[0], "message": refusal[1]}])
    who = await principal(request)
    assert who is not None
    state = request.app.state
    now = state.clock.now_ms()
    [found] = await due_devices(state.pool, device["center"], now, device["id"])
    if body.follows is not None and body.follows != found["follows"]:
        raise _recorded_by_another(device["id"])
    if found["status"] == "ok":
        raise Problem(409, "Conflict", f"{device['id']} is not due for inspection until {found['due_from']} (ms)")
    results = [i.model_dump() for i in body.items]
    try:
        async with state.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "INSERT INTO device_inspections (device, follows, passed, items, note, inspector, inspected_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *", device["id"], found["follows"], body.result == "pass",
                orjson.dumps(results).decode(), body.note, who.user or who.staff_id or who.label or who.role,
                datetime.fromtimestamp(now / 1000, timezone.utc))
            done = _inspection(row)
            failed = [i for i in results if not i["passed"]]
            if failed:
                # announced before the commit: with Redis away nothing is recorded (503) and the inspector retries
                await state.engine.center_event(device["center"], "device.inspection_failed", {
                    "device": {"id": device["id"], "kind": device["kind"], "label": device["label"],
                               "window_code": device["window"], "point": device["point"]},
                    "inspection": {"id": done["id"], "failed": failed, "note": body.note}})
    except asyncpg.UniqueViolationError:
        raise _recorded_by_another(device["id"]) from None
    return json(done, 201)


@api("GET", "/api/v1/devices/{device}/inspections", "The device's inspections, newest first",
     response=InspectionHistory, responses={403: "only the center's staff and manager", 404: "unknown device"})
async def history(request: Request) -> Response:
    device = await find_device(request, INSPECTORS)
    rows = await request.app.state.pool.fetch(
        "SELECT * FROM device_inspections WHERE device = $1 ORDER BY id DESC LIMIT 200", device["id"])
    return json({"device": device["id"], "inspections": [_inspection(r) for r in rows]})
