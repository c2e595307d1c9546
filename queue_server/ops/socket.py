"""``WS /ws/ops``: the dashboards' socket. A snapshot of the figures the token may see, then updates
of only what changed (``{"type": "update", "centers": {code: {changed keys}}, "district": {...}}``,
merged key by key into the snapshot), pings after silence; before the snapshot, while the process
warms the figures up, ``warming`` messages. Same close codes and client rules as the
live screens (``realtime/endpoints.py``): 4401 bad token, 4403 another scope, 4404 unknown center."""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ..realtime.endpoints import OTHER_SCOPE, TRY_LATER, UNKNOWN, Refused, listen, refuse, socket_principal
from .broadcast import OpsSocket
from .scope import ScopeError, ops_scope

if TYPE_CHECKING:
    from .component import Ops

log = logging.getLogger("queue_server.ops")


async def ops_socket(ws: WebSocket) -> None:
    state = ws.app.state
    await ws.accept()
    try:
        who, token = await socket_principal(ws)
        try:
            scope = ops_scope(who, ws.query_params.get("center") or None, state.engine.catalog.centers)
        except ScopeError as exc:
            raise Refused(UNKNOWN if exc.status == 404 else OTHER_SCOPE, exc.message) from None
    except Refused as exc:
        await refuse(ws, exc.code, exc.reason)
        return
    presence = state.realtime.presence
    device = await presence.identify(who, token) if who.role == "device" and scope else None

    def heard() -> None:
        if device is not None and scope is not None:
            presence.seen(scope, device)

    heard()
    ops = state.ops
    sock: OpsSocket | None = None
    try:
        if not await _fresh(ws, ops, scope):
            return
        sock = OpsSocket(ws, scope, ops.config.socket_queue)
        ops.broadcaster.add(sock)
        sock.start()
        await listen(ws, heard)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass
    finally:
        if sock is not None:
            ops.broadcaster.remove(sock)
            await sock.stop()
        if device is not None and scope is not None:
            presence.seen(scope, device, online=False)
        if sock is not None and ws.application_state == WebSocketState.CONNECTED and not sock.dropped:
            await refuse(ws, 1000, "")


async def _fresh(ws: WebSocket, ops: Ops, scope: str | None) -> bool:
    """The figures of ``scope`` kept (``Ops.fresh``); False when the page left meanwhile. The first
    dashboard of a process waits for their warm-up, seconds at a city's size: every second meanwhile
    (``QUEUE_OPS_WARMING_EVERY_S``) it is told how far it is (``{"type": "warming", "centers_warm": n, "centers": of}``), which the
    page shows and which keeps it from taking the wait for a dead link."""
    fresh = asyncio.ensure_future(ops.fresh(scope))
    try:
        while not (await asyncio.wait((fresh,), timeout=ops.config.warming_every_s))[0]:
            warm, of = ops.warming
            try:
                await ws.send_text(orjson.dumps({"type": "warming", "centers_warm": warm, "centers": of}).decode())
            except (WebSocketDisconnect, OSError, RuntimeError):
                return False
        try:
            fresh.result()
        except Exception:  # noqa: BLE001 - Redis or PostgreSQL away: the page comes back, as a later ask starts again
            log.warning("ops figures could not be kept for a dashboard", exc_info=True)
            await refuse(ws, TRY_LATER, "the figures are not available yet; retry shortly")
            return False
        return True
    finally:
        fresh.cancel()


routes = [WebSocketRoute("/ws/ops", ops_socket)]
