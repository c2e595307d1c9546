"""Residents from anywhere as a component of the app: the remote ticket page and API, the consumer
group that queues "turn is near" and "called" SMS, and the loop that ends the check-in grace."""
from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from displays.component import HERE as PAGES, PAGE_HEADERS
from queue_server.api.endpoints import Doc
from queue_server.engine.streams import StreamNodes
from queue_server.supervisor import Supervisor

from . import check_in
from .api import api
from .config import ResidentsConfig
from .notices import NoticeConsumer

PAGE: Path = PAGES / "remote.html"


async def remote_page(request: Request) -> Response:
    """The phone page that takes a ticket from home (static; it talks to the API)."""
    return FileResponse(PAGE, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


class ResidentsComponent:
    def __init__(self) -> None:
        self.routes: list[BaseRoute] = [Route("/remote", remote_page), *api.routes]
        self.docs: list[Doc] = list(api.docs)

    async def start(self, app: Starlette, work: Supervisor) -> None:
        state = app.state
        cfg = state.residents = ResidentsConfig.from_settings(state.settings)
        if not state.settings.runs_background:   # a consumer group and a sweep: background work
            return
        streams = StreamNodes(state.settings.redis_url, state.keys, f"{state.settings.key_prefix}:resident-notices")
        work.at_close(streams.aclose)

        def consumer(node: Redis, centers: list[str]) -> Awaitable[None]:
            return NoticeConsumer(node, state.pool, state.engine, cfg, state.clock, centers,
                                  losses=state.losses).run(work.stop)
        work.run("resident-notices", lambda: streams.on_each(list(state.engine.catalog.centers), consumer),
                 finishes=True)
        work.run("check-in-grace", lambda: check_in.run(state.engine, cfg.check_in_grace_s, cfg.tick_s, work.stop))


component = ResidentsComponent()
