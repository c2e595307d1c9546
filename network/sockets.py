"""A service point's own live devices: ``WS /ws/points/{point}/screen``, ``.../tablet`` and the
assistant's ``.../assistant``. They ride the live screens' hub and openings (realtime/) as a
center-wide subscriber that keeps only its point's tickets and the remote windows assigned to the
point, with the window's current ticket left out: a point's screen shows the clerk on duty and never
another point's resident."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from queue_server.api.auth import require
from queue_server.api.problems import Problem
from queue_server.domain.catalog import Center
from queue_server.domain.network import Assignment, split_point_id
from queue_server.engine.queue_engine import QueueEngine
from queue_server.realtime.endpoints import (OTHER_SCOPE, UNKNOWN, Refused, admit_ip, refuse, serve_device,
                                             socket_principal)
from queue_server.realtime.events import LiveEvent, StreamKey, text_frame
from queue_server.realtime.opening import Send, open_stream
from queue_server.realtime.sockets import SocketSubscriber, limit_send_buffer
from queue_server.record.people import Principal

HIDDEN_WINDOW_FIELDS = ("current", "since")   # the ticket at a shared window may be another point's


def point_windows(center: Center, point: str) -> frozenset[str]:
    """The remote windows that serve ``point`` at some time of the day."""
    return frozenset(a.window for a in center.assignments if a.point == point)


def about_point(data: dict[str, Any], point: str, windows: Callable[[], frozenset[str]]) -> bool:
    """A ticket event of this point's, or an event of a window serving it that names no ticket.
    ``windows`` is asked only for the latter: most events name a ticket."""
    ticket = data.get("ticket")
    if isinstance(ticket, dict):
        return ticket.get("service_point") == point
    window = data.get("window")
    return isinstance(window, dict) and window.get("id") in windows()


def _window_for_point(w: Any) -> Any:
    return {k: v for k, v in w.items() if k not in HIDDEN_WINDOW_FIELDS} if isinstance(w, dict) else w


def for_point(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "window": _window_for_point(data["window"])} if isinstance(data.get("window"), dict) else data


def point_snapshot(snap: dict[str, Any], point: str, windows: frozenset[str], info: dict[str, Any]) -> dict[str, Any]:
    """A center's snapshot cut down to one point: its tickets, its windows, its waiting count."""
    tickets = [t for t in snap.get("tickets", []) if t.get("service_point") == point]
    return {**snap, "point": info, "tickets": tickets,
            "windows": [_window_for_point(w) for w in snap.get("windows", []) if w.get("id") in windows],
            "waiting": {point: sum(1 for t in tickets if t.get("status") == "waiting")}}


class PointSubscriber(SocketSubscriber):
    """Subscribed to its whole center on the hub; passes on only what is about its point."""

    __slots__ = ("point", "engine", "_assigned", "_windows")

    def __init__(self, ws: WebSocket, center: str, point: str, engine: QueueEngine, queue_max: int) -> None:
        super().__init__(ws, center, None, queue_max)
        self.point = point
        self.engine = engine
        self._assigned: tuple[Assignment, ...] | None = None
        self._windows: frozenset[str] = frozenset()

    def windows(self) -> frozenset[str]:
        """Of the catalog in force at each event, so an assignment made while connected counts at once;
        worked out again only when a reload brought other assignments (every event of the center
        reaches each of its point screens)."""
        center = self.engine.catalog.centers.get(self.center)
        if center is None:
            return frozenset()
        if center.assignments is not self._assigned:
            self._assigned, self._windows = center.assignments, point_windows(center, self.point)
        return self._windows

    def offer(self, event: LiveEvent) -> bool:
        if not about_point(event.data, self.point, self.windows):
            return True
        data = for_point(event.data)
        if data is not event.data:
            payload = orjson.dumps(data)
            event = dataclasses.replace(event, data=data, frame=text_frame(payload))
        return super().offer(event)


def _admit(who: Principal, center: str, point: str, device: str) -> None:
    if device == "assistant":   # the assistant's own view: the point's assistant, or a manager
        try:
            require(who, center, {"manager", "assistant"}, point=point)
        except Problem as exc:
            raise Refused(OTHER_SCOPE, str(exc)) from None
        return
    if who.role == "device" and who.point is None:
        raise Refused(OTHER_SCOPE, "the token belongs to the center's hall, not to this service point")
    try:
        require(who, center, {"manager", "device"}, device_kinds={device}, point=point)
    except Problem as exc:
        raise Refused(OTHER_SCOPE, str(exc)) from None


async def point_socket(ws: WebSocket, device: str) -> None:
    state = ws.app.state
    rt = state.realtime
    center, point = split_point_id(ws.path_params["point"])
    await ws.accept()
    try:
        admit_ip(ws)
        c = state.engine.catalog.centers.get(center)
        if c is None or point not in c.service_points:
            raise Refused(UNKNOWN, f"unknown service point {ws.path_params['point']}")
        who, token = await socket_principal(ws)
        _admit(who, center, point, device)
    except Refused as exc:
        await refuse(ws, exc.code, exc.reason)
        return
    limit_send_buffer(ws, rt.config.send_buffer)
    presence = await rt.presence.identify(who, token)
    rt.presence.seen(center, presence)
    sub = PointSubscriber(ws, center, point, state.engine, rt.config.queue_max)
    p = c.service_points[point]
    info = {"id": ws.path_params["point"], "code": point, "name_zh": p.name_zh, "name_en": p.name_en,
            "kind": p.kind, "status": p.status}
    q = ws.query_params

    async def opening(send: Send) -> StreamKey:
        async def only_point(text: str) -> None:
            msg = orjson.loads(text)
            kind = msg.get("type")
            if kind == "snapshot":
                msg = point_snapshot(msg, point, sub.windows(), info)
            elif kind != "resume":
                if not about_point(msg, point, sub.windows):
                    return
                msg = for_point(msg)
            await send(orjson.dumps(msg).decode())

        return await open_stream(state.redis, state.engine, state.clock, center, None, q.get("cursor") or None,
                                 q.get("epoch") or None, rt.reader.epochs.get(center), rt.config.replay_max, only_point)

    await serve_device(ws, sub, opening, center, presence)


async def screen(ws: WebSocket) -> None:
    await point_socket(ws, "screen")


async def tablet(ws: WebSocket) -> None:
    await point_socket(ws, "tablet")


async def assistant(ws: WebSocket) -> None:
    await point_socket(ws, "assistant")


routes = [
    WebSocketRoute("/ws/points/{point}/screen", screen),
    WebSocketRoute("/ws/points/{point}/tablet", tablet),
    WebSocketRoute("/ws/points/{point}/assistant", assistant),
]
