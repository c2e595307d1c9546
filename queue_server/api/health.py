"""Liveness, readiness, the OpenAPI document, and token issuing."""
from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..record.people import create_token, find_staff
from ..record.persister import lag
from .auth import principal, require, require_operator
from .endpoints import Endpoints, json, read_body
from .problems import Problem
from .schemas import Health, NewToken, PersisterLag, TokenCreated

api = Endpoints("operations")


@api("GET", "/healthz", "The process is up", response=Health, auth=False)
async def healthz(request: Request) -> Response:
    return json({"status": "ok"})


@api("GET", "/readyz", "Redis and PostgreSQL both answer and no background task keeps failing", response=Health,
     auth=False, responses={503: "not ready: checks names what is not ok (a service, or the failing tasks)"})
async def readyz(request: Request) -> Response:
    checks: dict[str, Any] = {}
    try:
        await asyncio.wait_for(request.app.state.redis.ping(), 2)
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        checks["redis"] = type(exc).__name__
    try:
        await asyncio.wait_for(request.app.state.pool.fetchval("SELECT 1"), 2)
        checks["postgres"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["postgres"] = type(exc).__name__
    down = request.app.state.supervisor.down()
    checks["tasks"] = down or "ok"
    ok = all(v == "ok" for v in checks.values())
    return json({"status": "ready" if ok else "not ready", "checks": checks}, 200 if ok else 503)


@api("GET", "/api/v1/ops/persister", "How far the PostgreSQL record is behind each center's stream",
     response=PersisterLag, responses={403: "only admins and managers"})
async def persister_lag(request: Request) -> Response:
    await require_operator(request)
    state = request.app.state
    return json({"centers": await lag(state.redis, state.keys, list(state.engine.catalog.centers))})


@api("POST", "/api/v1/tokens", "Create a manager, staff, device, service point assistant or auditor token (shown once)", body=NewToken,
     response=TokenCreated, status=201, responses={403: "only admins and the center's manager"})
async def new_token(request: Request) -> Response:
    who = await principal(request)
    assert who is not None
    body = await read_body(request, NewToken)
    require(who, body.center, {"manager"})
    if who.role == "manager" and body.role in ("manager", "auditor"):
        raise Problem(403, "Forbidden", "only the district admin creates manager and auditor tokens")
    catalog = request.app.state.engine.catalog
    center = catalog.centers.get(body.center)
    if center is None:
        raise Problem(422, "Invalid request", f"unknown center {body.center!r}", errors=[{"field": "center", "message": "unknown"}])
    if body.window is not None and body.window not in center.windows:
        raise Problem(422, "Invalid request", f"unknown window {body.window!r}", errors=[{"field": "window", "message": "unknown"}])
    if body.role == "assistant" and (body.point is None or body.window is not None or body.device_kind is not None):
        raise Problem(422, "Invalid request", "an assistant token belongs to one service point (point), no window or device",
                      errors=[{"field": "point", "message": "required for an assistant, with no window or device_kind"}])
    if body.point is not None and (body.role not in ("device", "assistant") or body.point not in center.service_points):
        raise Problem(422, "Invalid request", f"a point belongs to devices and assistants, and {body.point!r} must be a"
                                              f" point of {body.center}",
                      errors=[{"field": "point", "message": "unknown, or not a device or assistant token"}])
    if body.point is not None and body.window is not None:
        raise Problem(422, "Invalid request", "a token's place is a window or a service point, not both",
                      errors=[{"field": "point", "message": "not with a window"}])
    if body.role == "device" and body.device_kind is None:
        raise Problem(422, "Invalid request", "device tokens need a device_kind",
                      errors=[{"field": "device_kind", "message": "required for devices"}])
    if body.staff_id is not None:
        person = await find_staff(request.app.state.pool, body.staff_id)
        if person is None or person["center"] != body.center:
            raise Problem(422, "Invalid request", f"unknown staff {body.staff_id!r}", errors=[{"field": "staff_id", "message": "unknown"}])
    token = await create_token(request.app.state.pool, body.role, body.center, body.window, body.staff_id,
                               body.device_kind, body.label, body.point)
    return json({"token": token, "role": body.role, "center": body.center, "window": body.window}, 201)
