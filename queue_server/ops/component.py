"""Ops as a component of the app: the figures fed by the realtime reader (a listener on its hub), the
dashboards' socket and its broadcaster, the poller of devices and lag, reports, metrics and the
dashboard page."""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from ..api.endpoints import Doc
from ..clock import Clock
from ..engine.keys import Keys
from ..realtime.component import Realtime
from ..record.persister import lag
from ..supervisor import Supervisor
from . import poll
from .api import api, dashboard
from .broadcast import Broadcaster
from .config import OpsConfig
from .feed import Feed
from .live import LiveFigures
from .loop_lag import LoopLag
from .metrics import Metrics, RequestTimer
from .socket import routes as socket_routes


@dataclass
class Ops:
    """What ops keeps per process, on ``app.state.ops``."""
    config: OpsConfig
    figures: LiveFigures
    broadcaster: Broadcaster
    feed: Feed | None          # None on the http tier: no stream reader feeds the figures there
    poller: poll.Poller | None  # likewise
    metrics: Metrics
    redis: Redis
    pool: asyncpg.Pool
    keys: Keys
    clock: Clock
    realtime: Realtime
    _keeping: asyncio.Future[None] | None = field(default=None, init=False)   # the feed's start, once asked (``keep``)

    async def keep(self, scope: str | None = None) -> None:
        """Keep the figures from now on: every center's stream read and applied, after a warm-up from
        today's events. A sockets process does it when first asked for figures, not at its start: of
        several, only those the dashboards reach read every event for them (the proxy sends the
        dashboards to one, deploy/nginx-tiers.conf); the others read only their own screens' centers.
        The first asks wait for the warm-up of what they show: a center's (``scope``), warmed ahead
        of the rest, or every center for the district's (``warming`` says how far it is). One that
        fails (Redis or PostgreSQL away) is tried again by the next ask."""
        if self.feed is None or self.kept:
            return
        if self._keeping is None:
            self._keeping = keeping = asyncio.ensure_future(self.feed.start())
            keeping.add_done_callback(self._start_ended)
        keeping = self._keeping
        if scope is not None:
            self.feed.first(scope)
        warm = asyncio.ensure_future(self.feed.until_warm(scope))
        try:
            await asyncio.wait((keeping, warm), return_when=asyncio.FIRST_COMPLETED)
        finally:
            warm.cancel()
        if keeping.done():
            keeping.result()   # the start's failure, to every ask that waited for it

    def _start_ended(self, keeping: asyncio.Future[None]) -> None:
        """A start that failed is forgotten: the next ask starts again."""
        if (keeping.cancelled() or keeping.exception() is not None) and self._keeping is keeping:
            self._keeping = None

    @property
    def warming(self) -> tuple[int, int]:
        """Centers whose figures are warm, of how many."""
        return self.feed.progress if self.feed is not None else (0, 0)

    @property
    def kept(self) -> bool:
        k = self._keeping
        return k is not None and k.done() and not k.cancelled() and k.exception() is None

    async def fresh(self, scope: str | None) -> None:
        """The figures kept (``keep``), and what those of ``scope`` (a center; None: the district) take
        from outside the event streams read now unless read within a poll period: before a dashboard's
        snapshot or a read. Redis away, the latter stay as last read (the event streams' part does not
        need it)."""
        await self.keep(scope)
        if self.poller is not None:
            with contextlib.suppress(RedisError):
                await self.poller.fresh(self.poller.scope([scope]))

    async def refresh_metrics(self) -> None:
        """Bring the gauges up to date just before a scrape."""
        m = self.metrics
        m.sockets.clear()
        for center, n in self.realtime.hub.sockets_by_center().items():
            m.sockets.labels("live", center).set(n)
        ops: dict[str, int] = {}
        for sock in self.broadcaster.sockets:
            ops[sock.scope or "district"] = ops.get(sock.scope or "district", 0) + 1
        for scope, n in ops.items():
            m.sockets.labels("ops", scope).set(n)
        centers = list(self.figures.centers)
        for center, behind in (await lag(self.redis, self.keys, centers)).items():
            m.lag.labels(center).set(behind["lag_ms"])
            m.unrecorded.labels(center, "pending").set(behind["pending"])
            m.unrecorded.labels(center, "undelivered").set(behind["undelivered"])
        if await self.pool.fetchval("SELECT to_regclass('sms_messages') IS NOT NULL"):
            counts = dict(await self.pool.fetch("SELECT state, count(*) FROM sms_messages"
                                                " WHERE state IN ('queued', 'sending') GROUP BY state"))
            for state in ("queued", "sending"):
                m.outbox.labels(state).set(counts.get(state, 0))
        if not self.kept:
            return
        now = self.clock.now_ms()
        for code, live_center in self.figures.centers.items():
            oldest = live_center.oldest_waiting_at()
            m.waiting.labels(code).set(len(live_center.waiting))
            m.longest.labels(code).set(max(0, now - oldest) / 1000 if oldest else 0)


def _time_requests(app: Starlette, metrics: Metrics) -> None:
    """Wrap the app's middleware stack in the request timer. app.py builds the Starlette app with no
    middleware list for components, and Starlette refuses ``add_middleware`` once started, so the
    built stack (built now if the lifespan ran without a request yet) is wrapped in place."""
    stack = app.middleware_stack or app.build_middleware_stack()
    app.middleware_stack = RequestTimer(stack, metrics)


class OpsComponent:
    def __init__(self) -> None:
        self.routes: list[BaseRoute] = [*api.routes, *socket_routes, Route("/dashboard", dashboard)]
        self.docs: list[Doc] = list(api.docs)

    async def start(self, app: Starlette, work: Supervisor) -> None:
        state = app.state
        config = OpsConfig.from_settings(state.settings)
        metrics = Metrics()
        _time_requests(app, metrics)
        figures = LiveFigures(state.engine.catalog.centers, state.settings.timezone, config.service_level_s,
                              state.clock.now_ms())
        broadcaster = Broadcaster(figures, state.clock, config)
        # The figures are the sockets tier's: fed by its reader, read by its dashboards' sockets and
        # /api/v1/ops/figures (tiers.LIVE_STATE); an http process would warm them and never read them.
        feed = poller = None
        if state.settings.holds_sockets:
            feed = Feed(figures, state.realtime.reader, state.redis, state.pool, state.engine, state.clock,
                        broadcaster.changed, metrics.count_event)
            poller = poll.Poller(figures, state.redis, state.keys, state.clock, config.device_online_s, config.poll_s,
                                 lambda: state.engine.catalog.centers,
                                 lambda: (sock.scope for sock in broadcaster.sockets), broadcaster.changed)
        state.ops = Ops(config, figures, broadcaster, feed, poller, metrics, state.redis, state.pool, state.keys,
                        state.clock, state.realtime)
        if state.settings.tier == "all":   # the one process there is: its dashboards open at once
            await state.ops.keep()

        metrics.count_from("background_task_restarts", "Restarts of each background task of this instance", ["task"],
                           lambda: {(s.name,): s.restarts for s in work.tasks.values()})
        metrics.count_from("hub_listener_errors", "Events an in-process listener of the live hub raised on (skipped by it)",
                           ["listener"], lambda: {(name,): n for name, n in state.realtime.hub.listener_errors.items()})
        metrics.count_from("stream_events_lost", "Events a consumer group will never read: trimmed from the stream"
                           " before it did (see record/trim.py)", ["center", "group"], lambda: dict(state.losses.counts))
        loop_lag = LoopLag(metrics.registry)
        work.at_close(loop_lag.close)
        work.run("loop-lag", lambda: loop_lag.run(work.stop))
        if feed is None or poller is None:
            return
        work.at_close(feed.close)
        work.run("ops-broadcaster", lambda: broadcaster.run(work.stop))
        work.run("ops-poller", lambda: poller.run(work.stop))
        work.run("ops-feed", lambda: feed.run(work.stop))


component = OpsComponent()
