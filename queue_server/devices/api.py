"""The devices API: register (admin: any center; manager: their own), list a center's devices with
their presence, rotate and revoke a device's token, and the HTTP heartbeat of devices without a socket."""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from ..api.auth import bearer, principal, require
from ..api.endpoints import Endpoints, json, known_center, read_body
from ..api.problems import Problem
from ..api.schemas import Body, Code, ShortText
from ..domain.devices import is_online
from ..record.people import token_hash
from . import store
from .watch import forget_here, revoked

api = Endpoints("devices")

Kind = Literal["kiosk", "all_in_one", "printer", "hall_display", "window_screen", "tablet", "dashboard"]


class NewDevice(Body):
    center: Code
    kind: Kind
    window: Code | None = Field(default=None, description="the window it stands at (a window screen, a tablet)")
    point: Code | None = Field(default=None, description="the service point it stands at; neither: the center's hall")
    model: ShortText = ""
    software_version: ShortText = ""
    installed_on: date | None = None
    label: ShortText = ""
    offline_after_s: int = Field(default=90, ge=1, le=86400, description="silent this long, it is offline")


class Device(BaseModel):
    id: str
    center: str
    kind: str
    window: str | None
    point: str | None
    model: str
    software_version: str
    installed_on: str | None
    label: str
    offline_after_s: int
    created_at: str
    state: str | None = Field(default=None, description="online or offline, as last announced; none before its first")
    last_seen: int | None = Field(default=None, description="ms since the epoch it was last heard from")
    online: bool | None = Field(default=None, description="heard from within its threshold now")


class DeviceCreated(Device):
    token: str = Field(description="the device's token, shown once")


class DeviceList(BaseModel):
    center: str
    devices: list[Device]


class Rotated(BaseModel):
    device: str
    token: str = Field(description="the new token, shown once; the old one no longer works")


class Heartbeat(BaseModel):
    device: str | None = Field(description="the registered device the token belongs to")


def _bad(field: str, message: str, detail: str) -> Problem:
    return Problem(422, "Invalid request", detail, errors=[{"field": field, "message": message}])


async def find_device(request: Request, roles: set[str]) -> dict[str, Any]:
    """The path's device, if ``roles`` at its center may act on it; only who could see any device learns one is missing."""
    who = await principal(request)
    assert who is not None
    device = await store.find(request.app.state.pool, request.path_params["device"])
    if device is None:
        if who.role not in ("admin", "manager"):
            raise Problem(403, "Forbidden", f"a {who.role} token may not do this")
        raise Problem(404, "Not found", f"no device {request.path_params['device']!r}")
    require(who, device["center"], roles)
    return device


@api("POST", "/api/v1/devices", "Register a device and make its token (shown once)", body=NewDevice,
     response=DeviceCreated, status=201, responses={403: "only admins and the center's manager",
                                                    422: "unknown center, kind, window or point"})
async def register(request: Request) -> Response:
    who = await principal(request)
    assert who is not None
    body = await read_body(request, NewDevice)
    require(who, body.center, {"manager"})
    center = request.app.state.engine.catalog.centers.get(body.center)
    if center is None:
        raise _bad("center", "unknown", f"unknown center {body.center!r}")
    if body.window is not None and body.point is not None:
        raise _bad("point", "a device stands at a window or at a point, not both", "both window and point given")
    if body.window is not None and body.window not in center.windows:
        raise _bad("window", "unknown", f"{body.window!r} is not a window of {body.center}")
    if body.point is not None and body.point not in center.service_points:
        raise _bad("point", "unknown", f"{body.point!r} is not a service point of {body.center}")
    device, token = await store.register(request.app.state.pool, body.center, body.kind, body.window, body.point,
                                         body.model, body.software_version, body.installed_on, body.label,
                                         body.offline_after_s)
    return json({**device, "token": token}, 201)


@api("GET", "/api/v1/centers/{center}/devices", "A center's registered devices with their presence",
     response=DeviceList, responses={403: "only admins and the center's manager", 404: "unknown center"})
async def of_center(request: Request) -> Response:
    who = await principal(request)
    assert who is not None
    code = request.path_params["center"]
    require(who, code, {"manager"})
    known_center(request, code)
    state = request.app.state
    devices = await store.of_center(state.pool, code)
    by_id = {device_id: field for device_id, field, _, _ in (await store.watched(state.pool, code)).get(code, [])}
    heard = await state.redis.hmget(state.keys.devices(code), list(by_id.values())) if by_id else []
    seen = dict(zip(by_id, heard))
    states = await state.redis.hgetall(state.keys.device_states(code))
    now = state.clock.now_ms()
    for d in devices:
        raw = seen.get(d["id"])
        last = orjson.loads(raw).get("last_seen") if raw else None
        announced = states.get(d["id"].encode())
        d.update(last_seen=last, online=is_online(last, now, d["offline_after_s"]),
                 state=announced.decode() if announced else None)
    return json({"center": code, "devices": devices})


@api("POST", "/api/v1/devices/{device}/rotate", "A new token for the device; the old one stops working at once",
     response=Rotated, responses={403: "only admins and the center's manager", 404: "unknown device"})
async def rotate(request: Request) -> Response:
    device = await find_device(request, {"manager"})
    token, old = await store.rotate(request.app.state.pool, device)
    for digest in old:
        forget_here(request.app, digest)
    await revoked(request.app, old)
    return json({"device": device["id"], "token": token})


@api("POST", "/api/v1/devices/{device}/revoke", "Revoke the device's token: its sockets close (4401) on every instance",
     status=204, responses={403: "only admins and the center's manager", 404: "unknown device"})
async def revoke(request: Request) -> Response:
    device = await find_device(request, {"manager"})
    old = await store.revoke(request.app.state.pool, device["id"])
    for digest in old:
        forget_here(request.app, digest)
    await revoked(request.app, old)
    return Response(status_code=204)


@api("POST", "/api/v1/devices/heartbeat", "A device without a socket says it is alive (a printer, say)",
     response=Heartbeat, responses={403: "not a device token", 429: "too many heartbeats"})
async def heartbeat(request: Request) -> Response:
    who = await principal(request)
    assert who is not None
    if who.role != "device" or who.center is None:
        raise Problem(403, "Forbidden", "only device tokens send heartbeats")
    token = bearer(request) or ""
    state = request.app.state
    state.devices.heartbeats.check(f"heartbeat:{who.device or token_hash(token)}")
    presence = state.realtime.presence
    presence.seen(who.center, await presence.identify(who, token))
    return json({"device": who.device})
