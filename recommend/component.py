"""The whole-city recommendation as a component of the app: its endpoint, its weights and rate limit."""
from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from queue_server.api.endpoints import Doc
from queue_server.api.ratelimit import RateLimiter
from queue_server.supervisor import Supervisor

from .api import api
from .config import RecommendConfig


@dataclass
class Recommending:
    """What the recommendation keeps per process, on ``app.state.recommend``."""
    config: RecommendConfig
    limiter: RateLimiter


class RecommendComponent:
    def __init__(self) -> None:
        self.routes: list[BaseRoute] = list(api.routes)
        self.docs: list[Doc] = list(api.docs)

    async def start(self, app: Starlette, work: Supervisor) -> None:
        config = RecommendConfig.from_env()
        app.state.recommend = Recommending(config, RateLimiter(config.per_minute, burst=max(2, config.per_minute // 3)))


component = RecommendComponent()
