"""Which process serves which route (``QUEUE_TIER``, docs/scale.md "Tiers"). The sockets tier serves the
websockets and the HTTP reads of its own live state (its sockets, the figures its stream reader feeds);
the http tier serves the rest. Either one answers a route of the other clearly instead of 404: HTTP
with 421 Misdirected Request, a socket with close code 4421, each naming the tier to ask."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from .api.problems import Problem

MISDIRECTED = 4421
EVERY_TIER = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
# HTTP reads of what one process holds: on an http process they would say "no sockets, no figures".
LIVE_STATE = frozenset({"/api/v1/ops/figures", "/api/v1/ops/realtime"})


def tier_of(route: BaseRoute) -> str:
    """The tier that serves ``route``: "all", "http" or "sockets"."""
    path = getattr(route, "path", "")
    if path in EVERY_TIER:
        return "all"
    if isinstance(route, WebSocketRoute) or path in LIVE_STATE:
        return "sockets"
    return "http"


def _misdirected(route: BaseRoute, here: str) -> BaseRoute:
    """``route``'s path on the other tier's process: the same match, an answer saying where to go."""
    other = "sockets" if here == "http" else "http"
    if isinstance(route, WebSocketRoute):
        async def refuse(ws: WebSocket) -> None:
            await ws.accept()
            await ws.close(MISDIRECTED, f"this process serves the {here} tier; live sockets are on the {other} tier")
        return WebSocketRoute(route.path, refuse)

    async def answer(request: Request) -> Response:
        raise Problem(421, "Misdirected request", f"this process serves the {here} tier (QUEUE_TIER={here});"
                      f" {request.url.path} is answered by the {other} tier")
    if isinstance(route, Mount):
        return Mount(route.path, routes=[Route("/{rest:path}", answer)])
    assert isinstance(route, Route)
    return Route(route.path, answer, methods=route.methods)


def for_tier(routes: list[BaseRoute], tier: str) -> list[BaseRoute]:
    """The routes a process of ``tier`` serves, then the other tier's as misdirected answers."""
    if tier == "all":
        return routes
    served = [r for r in routes if tier_of(r) in ("all", tier)]
    return served + [_misdirected(r, tier) for r in routes if tier_of(r) not in ("all", tier)]
