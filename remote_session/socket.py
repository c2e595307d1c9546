"""``WS /ws/sessions/{ticket_id}``: the signaling socket of the video session of a service point's
ticket at a remote window. Only the clerk of the window the ticket is at (a staff token of that
window) and the devices of the ticket's point may join; the server relays what they send to each
other and nothing else, and closes both when the ticket leaves the window."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from queue_server.api.problems import Problem
from queue_server.api.ratelimit import RateLimiter
from queue_server.domain.numbering import center_of
from queue_server.domain.remote_session import side_of
from queue_server.domain.tickets import AT_WINDOW
from queue_server.realtime.endpoints import (OTHER_SCOPE, POLICY, TOO_BIG, TRY_LATER, UNKNOWN, Refused,
                                             admit_ip, refuse, socket_principal)

from .messages import ADDRESSED, MESSAGE, Chat, Hangup, Heartbeat
from .relay import Participant, SessionRelay

log = logging.getLogger("queue_server.remote_session")
TICKET_ID = re.compile(r"^[a-z0-9_]{1,64}-\d{8}-[A-Z]{1,4}\d{1,6}$")
NO_SESSION = 4409     # the ticket is not called or served at a remote window now


async def _admit(ws: WebSocket) -> tuple[str, str, str, str]:
    """Which session the socket's token joins, and as which side: (center, window, point, side)."""
    state = ws.app.state
    ticket_id: str = ws.path_params["ticket_id"]
    center = center_of(ticket_id)
    if not TICKET_ID.match(ticket_id) or center not in state.engine.catalog.centers:
        admit_ip(ws)
        raise Refused(UNKNOWN, "no such ticket")
    who, _ = await socket_principal(ws)
    status, window, point = await state.redis.hmget(state.keys.ticket(center, ticket_id),
                                                    ["status", "window", "service_point"])
    status, window, point = (v.decode() if v else "" for v in (status, window, point))
    c = state.engine.catalog.centers[center]
    if status not in AT_WINDOW or not point or window not in c.windows or c.windows[window].kind != "remote":
        # said after the token is checked, so an outsider learns nothing of the ticket
        if who.center != center and who.role != "admin":
            raise Refused(OTHER_SCOPE, "the token belongs to another center")
        raise Refused(NO_SESSION, "the ticket is not called or served at a remote window now")
    side = side_of(who.role, who.center, who.window, who.point, center, window, point)
    if side is None:
        raise Refused(OTHER_SCOPE, "only the clerk of the ticket's window and the devices of its service point may join")
    return center, window, point, side


async def session_socket(ws: WebSocket) -> None:
    state = ws.app.state
    relay: SessionRelay = state.remote_sessions
    await ws.accept()
    try:
        center, window, point, side = await _admit(ws)
    except Refused as exc:
        await refuse(ws, exc.code, exc.reason)
        return
    reader = state.realtime.reader
    try:
        await reader.follow(center)   # the session's end is on its center's stream: read here while the page is
    except RedisError:
        await refuse(ws, TRY_LATER, "sessions cannot be opened right now; retry shortly")
        return
    try:
        await _take_part(ws, relay, center, window, point, side)
    finally:
        reader.unfollow(center)


async def _take_part(ws: WebSocket, relay: SessionRelay, center: str, window: str, point: str, side: str) -> None:
    """Open (or join) the session, then relay for this page until it or the session ends."""
    state = ws.app.state
    config = relay.config
    ticket_id: str = ws.path_params["ticket_id"]
    try:
        opened = await relay.open(center, window, ticket_id, point, side, state.clock.now_ms())
        if "refused" in opened:
            raise Refused(NO_SESSION, opened["detail"])
    except Refused as exc:
        await refuse(ws, exc.code, exc.reason)
        return
    except RedisError:
        await refuse(ws, TRY_LATER, "sessions cannot be opened right now; retry shortly")
        return
    session = opened["session"]
    p = Participant(ws, center, window, ticket_id, session["id"], side)
    joined = relay.join(p)
    writer = asyncio.create_task(p.write())
    try:
        if joined:
            p.push({"type": "joined", "session": session, "me": p.id, "role": side,
                    "ice_servers": config.ice_servers})
            await relay.publish(p, {"type": "peer.joined"})
            await _listen(ws, relay, p)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass
    except RedisError as exc:
        log.warning("session %s lost Redis: %s", session["id"], exc)
        p.end(TRY_LATER, "temporarily unavailable")
    finally:
        relay.leave(p)
        p.end(1000, "")
        if joined:
            with contextlib.suppress(RedisError):
                await relay.publish(p, {"type": "peer.left"})
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer, 3.0)
        writer.cancel()


async def _listen(ws: WebSocket, relay: SessionRelay, p: Participant) -> None:
    """Until the page goes or its session ends: each message checked for size, rate and shape, then
    relayed; too big closes with 1009, too many refused ones with 1008."""
    config = relay.config
    limiter = RateLimiter(config.per_minute, burst=config.burst, max_clients=1)
    refused = 0

    def complain(detail: str) -> bool:
        nonlocal refused
        refused += 1
        if refused > config.abuse_limit:
            p.end(POLICY, "too many refused messages")
            return False
        p.push({"type": "error", "detail": detail})
        return True

    while p.ended is None:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        raw = text if text is not None else message.get("bytes") or b""
        if len(raw) > config.max_message_bytes:
            p.end(TOO_BIG, "message too big")
            return
        try:
            limiter.check(p.id)
        except Problem:
            if not complain("too many messages; slow down"):
                return
            continue
        try:
            parsed = MESSAGE.validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            if not complain(f"malformed message: {where} {first.get('msg', '')}".strip()):
                return
            continue
        if isinstance(parsed, Heartbeat):
            continue
        if isinstance(parsed, Hangup):
            if p.role != "window":
                if not complain("only the clerk ends the video"):
                    return
                continue
            await relay.close(p.center, p.window, p.ticket, "hung_up", ws.app.state.clock.now_ms())
            continue
        body: dict[str, Any] = parsed.model_dump(exclude_none=isinstance(parsed, Chat))
        to = body.pop("to", None) if isinstance(parsed, ADDRESSED) else None
        await relay.publish(p, body, to=to)


routes = [WebSocketRoute("/ws/sessions/{ticket_id}", session_socket)]
