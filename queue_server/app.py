"""The ASGI app: wires Redis, PostgreSQL, the catalog, the engine and the persister together and
mounts the transports. Every instance of a tier (QUEUE_TIER, tiers.py) is identical; none holds state another needs."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol

import asyncpg
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from appointments.component import component as appointments
from displays.component import component as displays
from door.component import component as door
from evaluation.component import component as evaluation
from materials.component import component as materials
from network.component import component as network
from recommend.component import component as recommend
from residents.component import component as residents
from remote_session.component import component as remote_sessions

from .accounts.component import component as accounts
from .api import centers, health, tickets, windows
from .audit.component import component as audit
from .api.auth import TokenCache
from .api.centers import PublicQueues
from .api.calendar import component as opening_calendar
from .api.endpoints import Doc, json
from .api.openapi import build as build_openapi
from .api.problems import HANDLERS
from .api.ratelimit import RateLimiter
from .api.routing import IndexedRouter
from .clock import Clock, ShiftedClock, SystemClock
from .config import Settings
from .devices.component import component as devices
from .engine.connection import redis_client
from .engine.streams import StreamNodes
from .engine.keys import Keys
from .engine.queue_engine import QueueEngine
from .gc_freeze import component as long_lived
from .ops.component import component as ops
from .realtime.component import component as live_screens
from .realtime.config import RealtimeConfig
from .record.catalog import load_catalog
from .record.migrate import migrate
from .record.persister import Follower, Persister
from .record.pooled import prepare_on_open
from .record.personal import PersonalData
from .record.partitions import PartitionMaintainer
from .record.phones import retention
from .record.rebuild import rebuild_if_lost
from .record.trim import Losses, Trimmer
from .supervisor import Supervisor
from .tiers import for_tier

log = logging.getLogger("queue_server")


class Component(Protocol):
    """A part of the server beyond the core API (live screens, evaluation, dashboards): its routes,
    their OpenAPI entries, and the background tasks it runs while the app lives (under ``work``)."""

    routes: list[BaseRoute]
    docs: list[Doc]

    async def start(self, app: Starlette, work: Supervisor) -> None: ...


ENDPOINTS = [health.api, centers.api, tickets.api, windows.api]
# evaluation and ops listen to live_screens' hub; evaluation's deadlines count the calendar's working days;
# devices and accounts close live_screens' sockets when a token is revoked (accounts: or expires); door rates
# visits through evaluation; remote_sessions follow live_screens' hub; audit
# wraps the whole middleware stack (every request)
COMPONENTS: list[Component] = [opening_calendar, displays, live_screens, evaluation, ops, network, devices, accounts,
                               materials, recommend, door, residents, remote_sessions, appointments,
                               audit, long_lived]


async def keep_session(conn: asyncpg.Connection) -> None:
    """Pool release without asyncpg's default reset query (advisory unlock, CLOSE ALL, UNLISTEN,
    RESET ALL: a round trip on every release, 6 % of the CPU under load). Nothing here keeps session
    state; asyncpg still rolls back an open transaction before this runs."""


def openapi_document() -> dict[str, Any]:
    """The HTTP API as /openapi.json serves it: every endpoint and component's Doc entries."""
    return build_openapi([d for e in ENDPOINTS for d in e.docs] + [d for c in COMPONENTS for d in c.docs])


def create_app(settings: Settings | None = None, clock: Clock | None = None, run_persister: bool = True) -> Starlette:
    settings = settings or Settings.from_env()
    clock = clock or (ShiftedClock(settings.clock_offset_ms) if settings.clock_offset_ms else SystemClock())
    if not settings.redis_url or not settings.database_url:
        raise RuntimeError("REDIS_URL and DATABASE_URL must be set (queue-server demo/serve start embedded ones)")
    personal = PersonalData.from_settings(settings)   # a malformed key stops the start here

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = redis_client(settings.redis_url)  # type: ignore[arg-type]
        migrating = await asyncpg.connect(settings.database_url)   # before the pool, whose connections prepare on open
        try:
            await migrate(migrating, personal)
        finally:
            await migrating.close()
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=settings.db_pool_size,
                                         reset=keep_session, init=prepare_on_open if settings.answers_api else None)
        catalog = await load_catalog(pool)
        keys = Keys(settings.key_prefix)
        engine = QueueEngine(redis, catalog, settings, clock, pool, personal)

        async def restore() -> None:
            """Bring back from PostgreSQL whatever hot state Redis lost, before answering."""
            await rebuild_if_lost(redis, pool, keys, catalog, clock, personal)
            await engine.sync_catalog()

        await restore()
        app.state.settings, app.state.clock, app.state.personal = settings, clock, personal
        app.state.redis, app.state.pool, app.state.engine, app.state.keys = redis, pool, engine, keys
        app.state.tokens = TokenCache(pool, settings.admin_token)
        await app.state.tokens.preload()
        app.state.limiter = RateLimiter(settings.rate_limit_per_minute)
        app.state.public_queues = PublicQueues()
        work = app.state.supervisor = Supervisor()
        record_streams = StreamNodes(settings.redis_url, keys, f"{settings.key_prefix}:record")  # type: ignore[arg-type]
        work.at_close(record_streams.aclose)
        losses = app.state.losses = Losses()
        trimmer = Trimmer(redis, keys, list(catalog.centers), keep=RealtimeConfig.from_env().replay_max,
                          cap=settings.stream_maxlen // 2, losses=losses)
        try:
            if settings.runs_background:   # the record's work (docs/scale.md, "Tiers")
                work.run("stream-trimmer", lambda: trimmer.run(work.stop))
                work.run("number reserve", lambda: engine.numbers.run(work.stop))  # type: ignore[union-attr]
                work.run("phone retention", lambda: retention(pool, clock, settings.phone_retention_days, work.stop))
                months = PartitionMaintainer(pool, clock, settings.record_partitions_ahead,
                                             settings.record_retention_months)
                work.run("record partitions", lambda: months.run(work.stop))
            followers: list[Follower] = []   # components' work on each recorded batch (persister.py)
            app.state.record_followers = followers
            for component in COMPONENTS:
                await component.start(app, work)
            if settings.runs_background and run_persister:   # once every follower has joined: none misses a batch
                def persister(node: Redis, centers: list[str]) -> Awaitable[None]:
                    return Persister(node, pool, keys, centers, batch=settings.persister_batch, on_lost=restore,
                                     claim_idle_ms=settings.persister_claim_idle_ms, losses=losses,
                                     personal=personal, followers=followers).run(work.stop)
                work.run("persister", lambda: record_streams.on_each(list(catalog.centers), persister), finishes=True)
            yield
        finally:
            await work.close()
            await redis.aclose()
            await pool.close()

    openapi = openapi_document()

    async def openapi_json(request: Request) -> Response:
        return json(openapi)

    routes = [r for e in ENDPOINTS for r in e.routes]
    routes += [r for c in COMPONENTS for r in c.routes]
    routes.append(Route("/openapi.json", openapi_json))
    app = Starlette(lifespan=lifespan, exception_handlers=HANDLERS)  # type: ignore[arg-type]
    app.router = IndexedRouter(for_tier(routes, settings.tier), lifespan=lifespan)
    return app
