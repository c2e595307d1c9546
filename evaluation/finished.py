"""What the evaluation does with each ``ticket.finished`` the record reads: it records the served
ticket (window, staff on duty, matter) and queues its SMS prompt, a batch at a time. It follows the
record's consumer group (queue_server/record/persister.py): the same batch, once recorded, before it
is acknowledged; at-least-once, so both writes are idempotent.

Earlier versions read the streams as a consumer group of its own, ``evaluation``: ``retire_group``
takes over what that group had not finished and removes it from each stream, where it would hold
back the trim and be counted as losing every event."""
from __future__ import annotations

import logging

import asyncpg
import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from queue_server.clock import Clock
from queue_server.engine.keys import Keys
from queue_server.record.persister import Entry
from queue_server.record.personal import PersonalData

from .config import EvalConfig
from .served import RecentlyFinished, from_event, save
from .sms.outbox import enqueue_prompts

log = logging.getLogger("evaluation")
RETIRED_GROUP = "evaluation"
STALE_MS = 3_600_000  # a finish older than the SMS delay plus this gets no prompt (a backlog read late)
PAGE = 500            # entries a read of a retired group's backlog


class FinishedTickets:
    def __init__(self, pool: asyncpg.Pool, cfg: EvalConfig, clock: Clock, personal: PersonalData,
                 recent: RecentlyFinished | None = None) -> None:
        self.pool, self.cfg, self.clock, self.personal = pool, cfg, clock, personal
        self.recent = recent   # told of each served ticket once recorded: this process's ratings need no query

    async def take(self, entries: list[Entry]) -> None:
        """A recorded batch of ``(center, stream id, fields)``: its finishes recorded as served, with
        their prompts."""
        finished = [orjson.loads(fields[b"data"]) for _, _, fields in entries if fields.get(b"type") == b"ticket.finished"]
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

    async def retire_group(self, redis: Redis, keys: Keys, centers: list[str]) -> int:
        """Take every entry the retired ``evaluation`` group had left — pending or not yet read — from
        each center's stream, then remove the group; returns the entries taken. What it takes that
        the record's followers take too is taken twice, harmlessly. An instance of an older version
        still running recreates the group (its read answers NOGROUP), and each start retires it again."""
        taken = 0
        for center in centers:
            stream = keys.events(center)
            try:
                groups = {g["name"].decode() if isinstance(g["name"], bytes) else g["name"]: g
                          for g in await redis.xinfo_groups(stream)}
            except ResponseError:   # no such stream: nothing was left on it
                continue
            group = groups.get(RETIRED_GROUP)
            if group is None:
                continue
            start = b"(" + group["last-delivered-id"]
            if group["pending"]:
                start = (await redis.xpending(stream, RETIRED_GROUP))["min"]
            while page := await redis.xrange(stream, min=start, count=PAGE):
                await self.take([(center, sid.decode(), fields) for sid, fields in page])
                taken += len(page)
                start = b"(" + page[-1][0]
            await redis.xgroup_destroy(stream, RETIRED_GROUP)
        if taken:
            log.info("the retired evaluation group's %d entries taken over; the group removed", taken)
        return taken
