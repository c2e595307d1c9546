"""Live screens as a component of the app: the websocket routes, an ops view of the sockets, and the
background tasks (the stream reader, the sweeper for pings and stalled sockets, device presence)."""
from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..api.auth import require_operator
from ..api.endpoints import Doc, Endpoints, json
from ..api.ratelimit import RateLimiter
from ..engine.streams import StreamNodes
from ..supervisor import Supervisor
from .config import RealtimeConfig
from .endpoints import routes as socket_routes
from .hub import Hub
from .presence import Presence
from .reader import StreamReader

api = Endpoints("live screens")


class RealtimeStatus(BaseModel):
    sockets: dict[str, int]
    published: int
    dropped: int
    reader_connected: bool
    reader_reconnects: int
    last_ids: dict[str, str]


@dataclass
class Realtime:
    """Everything live screens keep per process, on ``app.state.realtime``."""
    config: RealtimeConfig
    hub: Hub
    reader: StreamReader
    presence: Presence
    limiter: RateLimiter     # opening attempts without a valid token, per address
    anonymous: dict[str, int] = field(default_factory=dict)   # tokenless sockets open now, per address


@api("GET", "/api/v1/ops/realtime", "Live sockets on this instance per center, events fanned out, sockets dropped",
     response=RealtimeStatus, responses={403: "only admins and managers"})
async def status(request: Request) -> Response:
    await require_operator(request)
    rt: Realtime = request.app.state.realtime
    return json({"sockets": rt.hub.sockets_by_center(), "published": rt.hub.published, "dropped": rt.hub.dropped,
                 "reader_connected": rt.reader.connected, "reader_reconnects": rt.reader.reconnects,
                 "last_ids": rt.reader.last})


@dataclass
class LiveScreens:
    routes: list[BaseRoute] = field(default_factory=lambda: [*socket_routes, *api.routes])
    docs: list[Doc] = field(default_factory=lambda: list(api.docs))

    async def start(self, app: Starlette, work: Supervisor) -> None:
        state = app.state
        config = RealtimeConfig.from_env()
        hub = Hub(config)
        # Its own connections (one per node on a Redis Cluster), blocking without a socket timeout, named for CLIENT LIST.
        nodes = StreamNodes(state.settings.redis_url, state.keys, f"{state.settings.key_prefix}:realtime-reader",
                            max_connections=2)
        work.at_close(nodes.aclose)
        reader = StreamReader(state.redis, nodes, state.keys, hub, config)
        presence = Presence(state.redis, state.keys, state.clock, config.presence_flush_s)
        per_minute = state.settings.rate_limit_per_minute
        # A whole minute's allowance at once. Sockets with a valid token are not counted against their
        # address at all: a hall's screens behind one NAT come back together, whatever else it sends.
        state.realtime = Realtime(config, hub, reader, presence, RateLimiter(per_minute, burst=per_minute))

        if state.settings.holds_sockets:   # an http process has no socket to feed: it reads no stream
            work.run("realtime-reader", lambda: reader.run(work.stop))
            work.run("realtime-sweeper", lambda: hub.run_sweeper(work.stop, state.clock))
        work.run("realtime-presence", lambda: presence.run(work.stop))   # devices' heartbeats come over HTTP too


component = LiveScreens()
