"""Which process serves which route (``QUEUE_TIER``, docs/scale.md "Tiers"). The sockets tier serves the
websockets and the HTTP reads of its own live state (its sockets, the figures its stream reader feeds);
the http tier (and the api tier, the same routes without the background work) serves the rest; the
background tier serves only what every process does. Each answers another tier's route clearly instead
of 404: HTTP with 421 Misdirected Request, a socket with close code 4421, each naming the tier to ask."""
from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from .api.problems import Problem
from .config import ROUTES_BY_TIER

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
    """``route``'s path on another tier's process: the same match, an answer saying where to go."""
    other = tier_of(route)
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
    """The routes a process of ``tier`` serves, then the other tiers' as misdirected answers."""
    if tier == "all":
        return routes
    served = [r for r in routes if tier_of(r) in ROUTES_BY_TIER[tier]]
    return served + [_misdirected(r, tier) for r in routes if tier_of(r) not in ROUTES_BY_TIER[tier]]


def lower_priority(tier: str, background_nice: int, sockets_nice: int, pid: int = 0) -> None:
    """A background or sockets process (``pid``, 0: this one) runs that many steps lower than it was
    started (``QUEUE_BACKGROUND_NICE``, ``QUEUE_SOCKETS_NICE``), so on a machine where the tiers share
    the cores a queue operation is answered first: the record and the prompts lag a little, a screen
    gets its frame a few milliseconds later (a screen's target is 100 ms, an operation's 50), rather
    than a clerk's call waiting behind a fan-out burst or a persister batch. On Linux it is also
    ``SCHED_BATCH``: woken (by Redis's answer to its stream read, say) it waits for the running
    process's turn to end instead of taking its core, which an api process lost at such wakeups in
    the middle of a request (loadtests/README.md, thirtieth session: on the city's saturated box,
    the desks' worst p99 60–140 ms in five runs without it, 45–99 in four with it; call→screen p99
    103–214 against 79–131)."""
    nice = {"background": background_nice, "sockets": sockets_nice}.get(tier, 0)
    if nice > 0:
        os.setpriority(os.PRIO_PROCESS, pid, min(19, os.getpriority(os.PRIO_PROCESS, pid) + nice))
        if hasattr(os, "SCHED_BATCH"):
            os.sched_setscheduler(pid, os.SCHED_BATCH, os.sched_param(0))
