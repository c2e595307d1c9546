"""The websocket endpoints: who may connect where (close codes 4401/4403/4404), the opening, and
the little a client may say (heartbeats)."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from redis.exceptions import RedisError
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ..api.auth import bearer, require
from ..api.problems import Problem, Unavailable
from ..domain.numbering import center_of
from ..engine.queue_engine import EngineError
from ..record.people import Principal, token_hash
from .events import ZERO, StreamKey
from .opening import Send, open_stream
from .sockets import SocketSubscriber, heard_in_place, limit_send_buffer
from .watch import TicketWatcher

log = logging.getLogger("queue_server.realtime")
Opening = Callable[[Send], Awaitable[StreamKey]]
BAD_TOKEN, OTHER_SCOPE, UNKNOWN = 4401, 4403, 4404
TOO_BIG, POLICY, TRY_LATER = 1009, 1008, 1013


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Kind:
    """One kind of live page: who may open it and whether it sees a whole center or one window."""
    name: str
    roles: frozenset[str]
    devices: frozenset[str]
    one_window: bool     # only events about its window


DISPLAY = Kind("display", frozenset({"manager", "staff", "device"}), frozenset({"display"}), False)
SCREEN = Kind("screen", frozenset({"manager", "device"}), frozenset({"screen"}), True)
TABLET = Kind("tablet", frozenset({"manager", "device"}), frozenset({"tablet"}), True)
STAFF = Kind("staff", frozenset({"manager", "staff"}), frozenset(), False)


def _client_ip(ws: WebSocket) -> str:
    return ws.client.host if ws.client else "-"


async def refuse(ws: WebSocket, code: int, reason: str) -> None:
    """Close with ``code``; a client already gone is no error. (These admission helpers are shared
    with the dashboards' socket, ``ops/socket.py``.)"""
    with contextlib.suppress(Exception):
        await ws.close(code, reason)


def admit_ip(ws: WebSocket) -> None:
    """The per-address rate of opening attempts that show no valid token."""
    try:
        ws.app.state.realtime.limiter.check(f"ws:{_client_ip(ws)}")
    except Problem:
        raise Refused(TRY_LATER, "too many connections; retry later") from None


def admit_anonymous(ws: WebSocket) -> str:
    """Take one of the address's places for a tokenless socket (a cap on those open at once, not only
    a rate, so they cannot pile up); returns the address, for ``release_anonymous`` when it ends."""
    rt = ws.app.state.realtime
    address = _client_ip(ws)
    if rt.anonymous.get(address, 0) >= rt.config.anonymous_per_address:
        raise Refused(TRY_LATER, "too many open sockets from this address; retry later")
    admit_ip(ws)
    rt.anonymous[address] = rt.anonymous.get(address, 0) + 1
    return address


def release_anonymous(ws: WebSocket, address: str) -> None:
    anonymous = ws.app.state.realtime.anonymous
    left = anonymous.pop(address) - 1
    if left:
        anonymous[address] = left


async def socket_principal(ws: WebSocket) -> tuple[Principal, str]:
    """Who the socket's token is (and the token), or Refused with the close code to use. The token is
    checked first: only an attempt without a valid one counts against its address's rate, so devices
    behind one address are never refused for what anonymous clients there did."""
    token = bearer(ws)
    if token is None or len(token) > 200:
        admit_ip(ws)
        raise Refused(BAD_TOKEN, "a device token is required")
    try:
        who = await ws.app.state.tokens.resolve(token)
    except Unavailable:  # the record is away and the token is not in the cache: screens come back when it is
        raise Refused(TRY_LATER, "tokens cannot be checked right now") from None
    if who is None:
        admit_ip(ws)
        raise Refused(BAD_TOKEN, "the token is not valid or was revoked")
    ws.state.token_hash = token_hash(token)   # a revocation closes the sockets of its token (Hub.close_token)
    return who, token


def _check_scope(ws: WebSocket, who: Principal, kind: Kind, center: str, window: str | None) -> None:
    c = ws.app.state.engine.catalog.centers.get(center)
    if c is None:
        raise Refused(UNKNOWN, f"unknown center {center}")
    if window is not None and window not in c.windows:
        raise Refused(UNKNOWN, f"unknown window {window}")
    try:
        require(who, center, set(kind.roles), window if kind.one_window or kind is STAFF else None, set(kind.devices))
    except Problem as exc:
        raise Refused(OTHER_SCOPE, str(exc)) from None


# A heartbeat as the live pages send it (live.js: ``JSON.stringify({ type: "heartbeat" })``).
HEARTBEAT = '{"type":"heartbeat"}'


async def listen(ws: WebSocket, on_heartbeat: Callable[[], None]) -> None:
    """Read until the client goes: heartbeats are recorded, big messages close with 1009, and too many
    invalid ones with 1008. Nearly every frame a client sends is a heartbeat, 840 a second at the
    city's 25,000 screens: one in the pages' own spelling is heard where the server parsed it
    (``heard_in_place``), without being read here at all. Any other spelling is parsed and counts."""
    config = ws.app.state.realtime.config
    invalid = 0
    with heard_in_place(ws, HEARTBEAT.encode(), on_heartbeat):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            raw = text if text is not None else message.get("bytes") or b""
            if len(raw) > config.max_in_bytes:
                await refuse(ws, TOO_BIG, "message too big")
                return
            kind = None
            if text is not None:
                with contextlib.suppress(orjson.JSONDecodeError):
                    data = orjson.loads(text)
                    kind = data.get("type") if isinstance(data, dict) else None
            if kind == "heartbeat":
                on_heartbeat()
                continue
            invalid += 1
            if invalid > config.abuse_limit:
                await refuse(ws, POLICY, "too many invalid messages")
                return


async def serve(ws: WebSocket, sub: SocketSubscriber, opening: Opening, on_heartbeat: Callable[[], None]) -> None:
    """Have the center's stream read, subscribe, then open (snapshot or resume), then deliver live
    events until the end."""
    rt = ws.app.state.realtime
    followed = False
    try:
        await rt.reader.follow(sub.center)
        followed = True
        rt.hub.add(sub)
        floor = await opening(sub.send)
        if sub.closed is None:
            sub.start(floor)
            await listen(ws, on_heartbeat)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass
    except (RedisError, EngineError) as exc:  # Redis away or rebuilding: the client retries
        log.warning("live socket of %s not opened: %s", sub.center, exc)
        sub.kill(1011, "temporarily unavailable", hard=False)
    finally:
        rt.hub.remove(sub)
        if followed:
            rt.reader.unfollow(sub.center)
        await sub.stop()


async def serve_device(ws: WebSocket, sub: SocketSubscriber, opening: Opening, center: str, device: str) -> None:
    """``serve`` for a device's socket: present while it is connected (heartbeats too), gone after, and
    closed normally if still open when delivery ends."""
    rt = ws.app.state.realtime
    try:
        await serve(ws, sub, opening, lambda: rt.presence.seen(center, device))
    finally:
        rt.presence.seen(center, device, online=False)
        if ws.application_state == WebSocketState.CONNECTED and sub.closed is None:
            await refuse(ws, 1000, "")


async def center_socket(ws: WebSocket, kind: Kind) -> None:
    rt = ws.app.state.realtime
    center: str = ws.path_params["center"]
    window: str | None = ws.path_params.get("window")
    await ws.accept()
    try:
        who, token = await socket_principal(ws)
        _check_scope(ws, who, kind, center, window)
    except Refused as exc:
        await refuse(ws, exc.code, exc.reason)
        return
    limit_send_buffer(ws, rt.config.send_buffer)
    device = await rt.presence.identify(who, token)
    rt.presence.seen(center, device)
    sub = SocketSubscriber(ws, center, window if kind.one_window else None, rt.config.queue_max)
    q = ws.query_params
    state = ws.app.state

    async def opening(send: Send) -> StreamKey:
        return await open_stream(state.redis, state.engine, state.clock, center, sub.window, q.get("cursor") or None,
                                 q.get("epoch") or None, rt.reader.epochs.get(center), rt.config.replay_max, send)

    await serve_device(ws, sub, opening, center, device)


async def display(ws: WebSocket) -> None:
    await center_socket(ws, DISPLAY)


async def screen(ws: WebSocket) -> None:
    await center_socket(ws, SCREEN)


async def tablet(ws: WebSocket) -> None:
    await center_socket(ws, TABLET)


async def staff(ws: WebSocket) -> None:
    await center_socket(ws, STAFF)


async def ticket(ws: WebSocket) -> None:
    """Public: the resident's status page follows one ticket."""
    rt = ws.app.state.realtime
    engine = ws.app.state.engine
    ticket_id: str = ws.path_params["ticket_id"]
    await ws.accept()
    try:
        address = admit_anonymous(ws)
    except Refused as exc:
        await refuse(ws, exc.code, exc.reason)
        return
    try:
        center = center_of(ticket_id)
        if len(ticket_id) > 100 or center not in engine.catalog.centers:
            await refuse(ws, UNKNOWN, "no such ticket")
            return
        limit_send_buffer(ws, rt.config.send_buffer)
        watcher = TicketWatcher(ws, engine, center, ticket_id)

        async def opening(send: Send) -> StreamKey:
            await watcher.send_position()
            return ZERO

        try:
            await serve(ws, watcher, opening, lambda: None)
        finally:
            if ws.application_state == WebSocketState.CONNECTED and watcher.closed is None:
                await refuse(ws, 1000, "")
    finally:
        release_anonymous(ws, address)


routes = [
    WebSocketRoute("/ws/centers/{center}/display", display),
    WebSocketRoute("/ws/centers/{center}/windows/{window}/screen", screen),
    WebSocketRoute("/ws/centers/{center}/windows/{window}/tablet", tablet),
    WebSocketRoute("/ws/centers/{center}/windows/{window}/staff", staff),
    WebSocketRoute("/ws/tickets/{ticket_id}", ticket),
]
