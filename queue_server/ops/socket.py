"""``WS /ws/ops``: the dashboards' socket. A snapshot of the figures the token may see, then updates
of only what changed (``{"type": "update", "centers": {code: {changed keys}}, "district": {...}}``,
merged key by key into the snapshot), pings after silence. Same close codes and client rules as the
live screens (``realtime/endpoints.py``): 4401 bad token, 4403 another scope, 4404 unknown center."""
from __future__ import annotations

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ..realtime.endpoints import OTHER_SCOPE, UNKNOWN, Refused, listen, socket_principal, refuse
from .broadcast import OpsSocket
from .scope import ScopeError, ops_scope


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
    await ops.fresh(scope)
    sock = OpsSocket(ws, scope, ops.config.socket_queue)
    ops.broadcaster.add(sock)
    sock.start()
    try:
        await listen(ws, heard)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass
    finally:
        ops.broadcaster.remove(sock)
        await sock.stop()
        if device is not None and scope is not None:
            presence.seen(scope, device, online=False)
        if ws.application_state == WebSocketState.CONNECTED and not sock.dropped:
            await refuse(ws, 1000, "")


routes = [WebSocketRoute("/ws/ops", ops_socket)]
