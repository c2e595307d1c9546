"""What the evaluation parts share while the app lives: its services, settings and clock, and the
one way to record a rating and announce it."""
from __future__ import annotations

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

UNANNOUNCED_MAX = 100_000   # ratings recorded while Redis was away, their events waiting (about 1 KB each)
ANNOUNCE_RETRY_S = 1.0


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

    @property
    def catalog(self) -> Catalog:
        return self.engine.catalog

    def tz(self, ticket_id: str) -> str:
        center = self.catalog.centers.get(center_of(ticket_id))
        return center.timezone if center else self.settings.timezone

    async def record(self, ticket_id: str, new: NewReview, link_token: str | None = None,
                     served: Served | None = None) -> Recorded:
        """Record a rating and announce it. A ``served`` ticket the caller found may not be recorded
        yet (it came from ``recent``, ahead of the evaluation consumer): it is, before the general
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
        await self.announce_recorded(rec, now)
        return rec

    async def record_at(self, ticket_id: str, new: NewReview, at: AtWindow) -> Recorded | None:
        """A tablet's rating of a ticket served ``at`` its window lately, in one statement, announced;
        None when the ticket was not (or is not recorded yet): ``record`` then, once the caller knows."""
        now = self.clock.now_ms()
        rec = await reviews.insert(self.pool, ticket_id, new, now, self.cfg, self.tz(ticket_id), self.calendar, at)
        if rec is not None:
            await self.announce_recorded(rec, now)
        return rec

    async def announce(self, rec: Recorded, now_ms: int) -> None:
        await reviews.announce(self.redis, self.keys, self.settings.stream_maxlen, rec, now_ms)

    async def announce_recorded(self, rec: Recorded, now_ms: int) -> None:
        """Announce a rating already committed. With Redis away its events wait here for the announcer
        rather than fail the request: the rating is recorded, and a retry would only be told so (409)."""
        try:
            await self.announce(rec, now_ms)
        except REDIS_AWAY:
            if len(self.unannounced) >= UNANNOUNCED_MAX:
                self.unannounced_dropped += 1
                if self.unannounced_dropped % 1000 == 1:
                    log.error("ratings recorded with Redis away over %d: %d left unannounced", UNANNOUNCED_MAX,
                              self.unannounced_dropped)
                return
            self.unannounced.append((rec, now_ms))

    async def announce_waiting(self) -> None:
        """Announce, oldest first, the ratings recorded while Redis was away; a failure leaves the rest
        waiting (the component runs this every ``ANNOUNCE_RETRY_S``, supervised)."""
        while self.unannounced:
            rec, at = self.unannounced[0]
            await self.announce(rec, at)
            self.unannounced.popleft()
