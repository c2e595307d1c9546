"""What the evaluation parts share while the app lives: its services, settings and clock, and the
one way to record a rating and announce it."""
from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from dataclasses import dataclass, field

import asyncpg
from redis.asyncio import Redis

from queue_server.api.problems import REDIS_AWAY
from queue_server.clock import Clock
from queue_server.config import Settings
from queue_server.domain.calendar import Calendar
from queue_server.domain.catalog import Catalog
from queue_server.domain.numbering import center_of
from queue_server.engine.keys import Keys
from queue_server.engine.queue_engine import QueueEngine

from . import reviews
from .config import EvalConfig
from .reviews import AtWindow, NewReview, Recorded
from .served import RecentlyFinished, Served, save

log = logging.getLogger("evaluation")

UNANNOUNCED_MAX = 100_000   # recorded ratings whose events wait, Redis away (about 1 KB each)
ANNOUNCE_RETRY_S = 1.0
ANNOUNCE_BATCH = 500


@dataclass
class Evaluation:
    pool: asyncpg.Pool
    redis: Redis
    keys: Keys
    engine: QueueEngine
    settings: Settings
    cfg: EvalConfig
    clock: Clock
    calendar: Calendar                  # one source of working days: the opening calendar
    recent: RecentlyFinished = field(default_factory=RecentlyFinished)
    unannounced: deque[tuple[Recorded, int]] = field(default_factory=deque)   # (rating, when it was recorded)
    unannounced_dropped: int = 0
    recorded: asyncio.Event = field(default_factory=asyncio.Event)           # set when a rating joins them
    announcing_now: asyncio.Future[None] | None = None                       # the announcer's round in flight

    @property
    def catalog(self) -> Catalog:
        return self.engine.catalog

    def tz(self, ticket_id: str) -> str:
        center = self.catalog.centers.get(center_of(ticket_id))
        return center.timezone if center else self.settings.timezone

    async def record(self, ticket_id: str, new: NewReview, link_token: str | None = None,
                     served: Served | None = None) -> Recorded:
        """Record a rating and announce it. A ``served`` ticket the caller found may not be recorded
        yet (it came from ``recent``, ahead of the record): it is, before the general
        way, or before trying a first rating's one statement again."""
        now = self.clock.now_ms()
        rec = None
        if served is not None:
            first = reviews.is_first(new, link_token)
            if first:
                rec = await reviews.insert(self.pool, served.ticket_id, new, now, self.cfg, self.tz(ticket_id), self.calendar)
            if rec is None:
                await save(self.pool, [served])
                if first:
                    rec = await reviews.insert(self.pool, served.ticket_id, new, now, self.cfg, self.tz(ticket_id), self.calendar)
        if rec is None:
            async with self.pool.acquire() as conn, conn.transaction():
                rec = await reviews.write(conn, self.cfg, self.tz(ticket_id), self.calendar, ticket_id, new, now, link_token)
        self.announce_recorded(rec, now)
        return rec

    async def record_at(self, ticket_id: str, new: NewReview, at: AtWindow) -> Recorded | None:
        """A tablet's rating of a ticket served ``at`` its window lately, in one statement, announced;
        None when the ticket was not (or is not recorded yet): ``record`` then, once the caller knows."""
        now = self.clock.now_ms()
        rec = await reviews.insert(self.pool, ticket_id, new, now, self.cfg, self.tz(ticket_id), self.calendar, at)
        if rec is not None:
            self.announce_recorded(rec, now)
        return rec

    def announce_recorded(self, rec: Recorded, now_ms: int) -> None:
        """Hand a committed rating to the announcer: the response needs none of its events, and its
        round trip to Redis (at the half city's peak a p99 of 10 ms, the rating's second wait for the
        loop) was the request's. With Redis away they wait for it: the rating is recorded, and a
        retry would only be told so (409)."""
        if len(self.unannounced) >= UNANNOUNCED_MAX:
            self.unannounced_dropped += 1
            if self.unannounced_dropped % 1000 == 1:
                log.error("ratings waiting for Redis over %d: %d left unannounced", UNANNOUNCED_MAX,
                          self.unannounced_dropped)
            return
        self.unannounced.append((rec, now_ms))
        self.recorded.set()

    async def announce_waiting(self) -> None:
        """Announce, oldest first, the ratings waiting, up to ``ANNOUNCE_BATCH`` a round trip; a failure
        leaves them waiting."""
        while self.unannounced:
            batch = list(itertools.islice(self.unannounced, ANNOUNCE_BATCH))
            await reviews.announce(self.redis, self.keys, self.settings.stream_maxlen, batch)
            for _ in batch:   # ratings recorded meanwhile were appended after these
                self.unannounced.popleft()

    async def announcing(self) -> None:
        """The announcer (supervised): whatever waits as soon as a rating is recorded; with Redis
        away, again every ``ANNOUNCE_RETRY_S``. A round is shielded from the stop's cancellation: cut
        between sending and its answer, nobody would know whether to send its events again."""
        while True:
            if not self.unannounced:
                self.recorded.clear()
                await self.recorded.wait()
            self.announcing_now = asyncio.ensure_future(self.announce_waiting())
            try:
                await asyncio.shield(self.announcing_now)
            except REDIS_AWAY:
                await asyncio.sleep(ANNOUNCE_RETRY_S)

    async def announce_left(self) -> None:
        """At the stop: the round it caught in flight ends, then whatever still waits is announced."""
        if self.announcing_now is not None:
            await asyncio.gather(self.announcing_now, return_exceptions=True)
        await self.announce_waiting()
