"""The indexed router (api/routing.py) answers as Starlette's: for every path of every route of the
whole server, in every tier, the route it picks is the one Starlette's first-match order picks; a
wrong method is 405, a missing slash is redirected, an unknown path is 404, and a route added after the
first request is served."""
from __future__ import annotations

import re
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Route

from queue_server.api.routing import IndexedRouter, literal_segments
from queue_server.app import create_app
from queue_server.config import Settings


def first_match(routes: list[BaseRoute], scope: dict) -> tuple[str, BaseRoute] | None:
    """Starlette's choice: the first full match, else the first partial one."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return "full", route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return ("partial", partial) if partial else None


def test_literal_segments_stop_at_the_first_parameter() -> None:
    assert literal_segments("/api/v1/tickets/{id}/{action}") == ("api", "v1", "tickets")
    assert literal_segments("/api/v1/centers/{center}/tickets") == ("api", "v1", "centers")
    assert literal_segments("/files/by-{name}") == ("files",)
    assert literal_segments("/audit") == ("audit",)
    assert literal_segments("/{anything}") == ()
    assert literal_segments("/") == ("",)


@pytest.mark.parametrize("tier", ["all", "http", "sockets"])
def test_every_route_of_the_server_is_found_as_starlette_finds_it(settings: Settings, tier: str) -> None:
    router = create_app(replace(settings, tier=tier)).router
    assert isinstance(router, IndexedRouter)
    checked = 0
    for route in router.routes:
        template = getattr(route, "path", "")
        for fill in ("x", "123", "a.b"):
            for tail in ("", "/", "/more"):
                path = (re.sub(r"\{[^}]*\}", fill, template) or "/") + tail
                for kind in ("http", "websocket"):
                    for method in ("GET", "POST", "DELETE"):
                        scope = {"type": kind, "path": path, "root_path": "", "method": method, "headers": []}
                        assert first_match(router.candidates(path), scope) == first_match(router.routes, scope), path
                        checked += 1
    assert checked > 5000


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.url.path)


async def test_answers_are_starlettes() -> None:
    app = Starlette()
    app.router = IndexedRouter([Route("/api/v1/things/{id}", ok, methods=["POST"]), Route("/api/v1/list/", ok),
                                Route("/{page}", ok)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.post("/api/v1/things/7")).text == "/api/v1/things/7"
        assert (await client.get("/api/v1/things/7")).status_code == 405
        redirected = await client.get("/api/v1/list")
        assert redirected.status_code == 307 and redirected.headers["location"] == "http://t/api/v1/list/"
        assert (await client.get("/kiosk")).text == "/kiosk"          # a route of no literal segment
        assert (await client.get("/api/v9/nothing")).status_code == 404
        app.router.routes.append(Route("/api/v9/nothing", ok))        # added after the first request
        assert (await client.get("/api/v9/nothing")).text == "/api/v9/nothing"
