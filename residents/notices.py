"""The ``residents`` consumer group on every center's stream: after the events of a batch it queues
each ticket's "your turn is near" SMS (when N or fewer are ahead, N per center) and, on its call, the
"you are called" SMS (tickets of ``QUEUE_TURN_NOTICE_CHANNELS``, remote by default); and it starts the
check-in grace of a called remote ticket whose resident has not checked in. Each SMS goes out once per
ticket: it is an outbox notice keyed ``{ticket}:near`` / ``{ticket}:called``, queued at most once per
key, so a replay after a restart, or a position crossing its threshold again (a transfer, a priority
ticket cutting in), queues nothing more. Opted-out numbers get nothing."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis

from evaluation.sms.outbox import enqueue_notice
from queue_server.clock import Clock
from queue_server.domain.catalog import Catalog
from queue_server.domain.residents import needs_check_in
from queue_server.engine.queue_engine import QueueEngine
from queue_server.engine.scripts import call_each
from queue_server.record.group_consumer import GroupConsumer
from queue_server.record.trim import Losses

from . import texts
from .config import ResidentsConfig

GROUP = "residents"


def brings_nearer(kind: str, body: dict[str, Any]) -> bool:
    """Whether an event can bring a waiting ticket nearer its turn: a ticket called, or one moving on
    from waiting or from a pause (cancelled, transferred, resumed: its ``from`` says so) — a line
    shortened, or a paused ticket watched that waits again. Issues put tickets behind or, priority
    ones, ahead; starting, finishing, recalling, a called ticket's no-show and the windows move
    nobody nearer — at the city's peak, looking at a center's
    watch after each of those too made 650 script calls a second, 43 % of all in Redis."""
    return kind == "ticket.called" or body.get("from") in ("waiting", "paused")


@dataclass(frozen=True)
class Notice:
    center: str
    ticket: str
    kind: str       # near | called
    phone: str
    text: str

    @property
    def key(self) -> str:
        """The outbox's idempotency key: one message per ticket and kind."""
        return f"{self.ticket}:{self.kind}"


class NoticeConsumer(GroupConsumer):
    group = GROUP
    # A notice is an SMS, seconds on its way: half a second of gathering costs a resident nothing, and
    # the read naming every stream (the city's 287, ~1.7 ms of Redis's time each) is made about twice
    # a second, not nine times. A batch of 2,000 holds the city's half second (~500 events) with room.
    pace_s = 0.5

    def __init__(self, redis: Redis, pool: asyncpg.Pool, engine: QueueEngine, cfg: ResidentsConfig, clock: Clock,
                 centers: list[str], name: str | None = None, losses: Losses | None = None) -> None:
        super().__init__(redis, engine.keys, centers, cfg.consumer_block_ms, name, batch=2000, losses=losses)
        self.pool, self.engine, self.cfg, self.clock = pool, engine, cfg, clock
        self.queued = 0

    @property
    def catalog(self) -> Catalog:
        return self.engine.catalog

    async def take(self, entries: list[tuple[str, dict[bytes, bytes]]]) -> None:
        now = self.clock.now_ms()
        touched: dict[str, list[str]] = {}       # center -> tickets issued with a phone (to watch)
        notices: list[Notice] = []
        grace: dict[str, dict[str, int]] = {}    # center -> ticket -> when its check-in grace ends
        for center, fields in entries:
            kind = fields.get(b"type", b"").decode()
            if not kind.startswith("ticket."):
                continue
            body = orjson.loads(fields[b"data"])
            t = body.get("ticket") or {}
            told = bool(t.get("phone")) and t.get("channel") in self.cfg.notice_channels
            if kind == "ticket.issued" and told:
                touched.setdefault(center, []).append(t["id"])
            elif brings_nearer(kind, body):
                touched.setdefault(center, [])
            if kind == "ticket.called":
                if told and now - int(t.get("called_at", now)) <= self.cfg.called_sms_max_age_s * 1000:
                    notices.append(Notice(center, t["id"], "called", t["phone"], self._called_text(center, t)))
                if needs_check_in(t):
                    grace.setdefault(center, {})[t["id"]] = int(t["called_at"]) + self.cfg.check_in_grace_s * 1000
        notices += await self._near(touched, now)
        if notices:
            async with self.pool.acquire() as conn:
                for n in notices:
                    self.queued += await enqueue_notice(conn, n.key, n.phone, n.text, now, self.engine.personal)
        if notices or grace:
            async with self.engine.redis.pipeline(transaction=False) as pipe:
                for n in notices:
                    if n.kind == "near":   # queued: no need to look at it again
                        pipe.srem(self.keys.near_watch(n.center), n.ticket)
                for center, due in grace.items():
                    pipe.zadd(self.keys.check_in_due(center), due, nx=True)  # type: ignore[arg-type]
                await pipe.execute()

    async def _near(self, touched: dict[str, list[str]], now: int) -> list[Notice]:
        """The near SMS due now at each center ``touched`` by the batch (``brings_nearer``, or a ticket
        issued there with a phone, which joins the tickets it watches first), among the tickets it
        watches: one script per center, all in one round trip."""
        k = self.keys
        centers = list(touched)
        replies = await call_each(self.engine.redis, self.engine.scripts["near_due"],
                                  [([k.near_watch(c)], [k.center_base(c), now, self.cfg.near_for(c), *touched[c]])
                                   for c in centers])
        notices: list[Notice] = []
        for center, raw in zip(centers, replies):
            c = self.catalog.centers[center]
            notices += [Notice(center, d["id"], "near", d["phone"], texts.near(d["number"], int(d["ahead"]), c.name_zh,
                                                                                c.name_en))
                        for d in orjson.loads(raw).get("due") or []]
        return notices

    def _called_text(self, center: str, t: dict[str, Any]) -> str:
        c = self.catalog.centers[center]
        w = c.windows.get(t.get("window") or "")
        return texts.called(t["number"], w.name_zh if w else t.get("window", ""), w.name_en if w else t.get("window", ""),
                            c.name_zh, c.name_en)
