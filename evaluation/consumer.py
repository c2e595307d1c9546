"""The ``evaluation`` consumer group on every center's stream: each ``ticket.finished`` records the
served ticket (window, staff on duty, matter) and queues its SMS prompt, a batch at a time. Like the
record's persister it is at-least-once and idempotent (queue_server/record/group_consumer.py)."""
from __future__ import annotations

import asyncpg
import orjson
from redis.asyncio import Redis

from queue_server.clock import Clock
from queue_server.engine.keys import Keys
from queue_server.record.group_consumer import GroupConsumer
from queue_server.record.personal import PersonalData
from queue_server.record.trim import Losses

from .config import EvalConfig
from .served import RecentlyFinished, from_event, save
from .sms.outbox import enqueue_prompts

GROUP = "evaluation"
STALE_MS = 3_600_000  # a finish older than the SMS delay plus this gets no prompt (a group created late)


class FinishedConsumer(GroupConsumer):
    group = GROUP

    def __init__(self, redis: Redis, pool: asyncpg.Pool, keys: Keys, centers: list[str], cfg: EvalConfig, clock: Clock,
                 personal: PersonalData, name: str | None = None, batch: int = 200, claim_idle_ms: int = 30_000,
                 losses: Losses | None = None, recent: RecentlyFinished | None = None) -> None:
        super().__init__(redis, keys, centers, cfg.consumer_block_ms, name, batch, claim_idle_ms, losses)
        self.pool, self.cfg, self.clock, self.personal = pool, cfg, clock, personal
        self.recent = recent   # told of each served ticket once recorded: this process's ratings need no query
        self.handled = 0

    async def take(self, entries: list[tuple[str, dict[bytes, bytes]]]) -> None:
        finished = [orjson.loads(fields[b"data"]) for _, fields in entries if fields.get(b"type") == b"ticket.finished"]
        if finished:
            served = [from_event(data) for data in finished]
            oldest = self.clock.now_ms() - self.cfg.sms_delay_s * 1000 - STALE_MS
            prompts = [(s, data["ticket"]["phone"]) for s, data in zip(served, finished)
                       if data["ticket"].get("phone") and s.finished_at_ms > oldest]
            # Two statements, each its own transaction: a rating arriving meanwhile would wait on the
            # new served rows for as long as a transaction around both stayed open (hundreds of ms
            # at the peak). The served rows go first, as the outbox reads them to send a prompt;
            # both are idempotent, and the outbox skips a prompt whose ticket was rated meanwhile.
            async with self.pool.acquire() as conn:
                await save(conn, served)
                await enqueue_prompts(conn, prompts, self.cfg, self.personal)
            if self.recent is not None:
                for s in served:
                    self.recent.remember(s)
        self.handled += len(finished)
