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
    records: bool              # this process does the record's work (the persister, the SMS outbox): its gauges are here
    _keeping: asyncio.Future[None] | None = field(default=None, init=False)   # the feed's start, once asked (``keep``)
    behind: dict[str, dict[str, int]] = field(default_factory=dict, init=False)   # the record's lag by center, last scrape's
    outbox: dict[str, int] = field(default_factory=dict, init=False)   # the SMS outbox by state, likewise

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
        """Read what the gauges take from Redis and PostgreSQL (the record's lag, the SMS outbox) just
        before a scrape; the rest they read from this process as it collects."""
        if not self.records:
            return
        self.behind = await lag(self.redis, self.keys, list(self.figures.centers))
        if await self.pool.fetchval("SELECT to_regclass('sms_messages') IS NOT NULL"):
            counts = dict(await self.pool.fetch("SELECT state, count(*) FROM sms_messages"
                                                " WHERE state IN ('queued', 'sending') GROUP BY state"))
            self.outbox = {state: counts.get(state, 0) for state in ("queued", "sending")}

    def socket_counts(self) -> dict[tuple[str, str], float]:
        counts: dict[tuple[str, str], float] = {
            ("live", center): n for center, n in self.realtime.hub.sockets_by_center().items()}
        for sock in self.broadcaster.sockets:
            key = ("ops", sock.scope or "district")
            counts[key] = counts.get(key, 0) + 1
        return counts

    def waiting_counts(self) -> dict[tuple[str], float]:
        """Only while the figures are kept (a process whose figures are not fed has none to tell)."""
        if not self.kept:
            return {}
        return {(code,): len(live.waiting) for code, live in self.figures.centers.items()}

    def longest_waits(self) -> dict[tuple[str], float]:
        if not self.kept:
            return {}
        now = self.clock.now_ms()
        return {(code,): max(0, now - oldest) / 1000 if (oldest := live.oldest_waiting_at()) else 0
                for code, live in self.figures.centers.items()}

    def register_gauges(self) -> None:
        """The record's lag and the outbox only where that work is done: at the city's 287 centers they
        are half the text, the same in every process."""
        m = self.metrics
        m.gauge_from("websocket_connections", "Open websockets on this instance", ["kind", "center"],
                     self.socket_counts)
        m.gauge_from("queue_waiting_tickets", "Tickets waiting now", ["center"], self.waiting_counts)
        m.gauge_from("queue_longest_wait_seconds", "Time since the oldest waiting ticket was issued", ["center"],
                     self.longest_waits)
        if not self.records:
            return
        m.gauge_from("persister_lag_ms", "How far the PostgreSQL record is behind the center's stream", ["center"],
                     lambda: {(center,): b["lag_ms"] for center, b in self.behind.items()})
        m.gauge_from("persister_unrecorded_events", "Events of the center's stream not yet recorded",
                     ["center", "state"], lambda: {(center, state): b[state] for center, b in self.behind.items()
                                                   for state in ("pending", "undelivered")})
        m.gauge_from("sms_outbox_messages", "SMS waiting to be sent or being sent", ["state"],
                     lambda: {(state,): n for state, n in self.outbox.items()})


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
                        state.clock, state.realtime, state.settings.runs_background)
        state.ops.register_gauges()
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
