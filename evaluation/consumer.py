"""The ``evaluation`` consumer group on every center's stream: each ``ticket.finished`` records the
served ticket (window, staff on duty, matter) and queues its SMS prompt, a batch at a time. Like the
record's persister it is at-least-once and idempotent, re-reads its own pending entries after a
crash and takes over entries a dead consumer left (``XAUTOCLAIM``)."""
from __future__ import annotations

import asyncio
import asyncpg
import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from queue_server.clock import Clock
from queue_server.engine.keys import Keys
from queue_server.record.persister import PRUNE_EVERY_S, consumer_name, prune_consumers, stream_vanished
from queue_server.record.trim import Losses

from .config import EvalConfig
from .served import from_event, save
from .sms.outbox import enqueue_prompts

GROUP = "evaluation"
STALE_MS = 3_600_000  # a finish older than the SMS delay plus this gets no prompt (a group created late)
PACE_S = 0.1         # after a short read, let events gather: one read over every stream per batch, not per event


class FinishedConsumer:
    def __init__(self, redis: Redis, pool: asyncpg.Pool, keys: Keys, centers: list[str], cfg: EvalConfig, clock: Clock,
                 name: str | None = None, batch: int = 200, claim_idle_ms: int = 30_000, losses: Losses | None = None) -> None:
        self.redis, self.pool, self.keys, self.centers, self.cfg, self.clock = redis, pool, keys, centers, cfg, clock
        self.losses = losses or Losses()
        self._center_of = {keys.events(c): c for c in centers}
        self.name = name or consumer_name()
        self.batch, self.claim_idle_ms = batch, claim_idle_ms
        self.handled = 0

    async def ensure_groups(self) -> None:
        for c in self.centers:
            try:
                await self.redis.xgroup_create(self.keys.events(c), GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def _handle(self, response: list) -> None:
        finished, acks = [], {}
        for key, items in response or []:
            stream = key.decode() if isinstance(key, bytes) else key
            gone = 0
            for sid, fields in items:
                acks.setdefault(stream, []).append(sid)
                if not fields:  # trimmed away while pending (redis-py reads it as {})
                    gone += 1
                elif fields.get(b"type") == b"ticket.finished":
                    finished.append(orjson.loads(fields[b"data"]))
            if gone:
                self.losses.add(self._center_of[stream], GROUP, gone, "trimmed away while pending")
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
                await enqueue_prompts(conn, prompts, self.cfg)
        if acks:
            async with self.redis.pipeline(transaction=False) as pipe:
                for stream, ids in acks.items():
                    pipe.xack(stream, GROUP, *ids)
                await pipe.execute()
        self.handled += len(finished)

    async def _read(self, start: str, block: int | None = None) -> list:
        return await self.redis.xreadgroup(GROUP, self.name, {self.keys.events(c): start for c in self.centers},
                                           count=self.batch, block=block)

    async def drain_own_pending(self) -> None:
        while True:
            response = await self._read("0")
            if not any(items for _, items in response or []):
                return
            await self._handle(response)

    async def claim_abandoned(self) -> None:
        for c in self.centers:
            start = "0-0"
            while True:
                start, claimed, *deleted = await self.redis.xautoclaim(self.keys.events(c), GROUP, self.name,
                                                                       self.claim_idle_ms, start, count=self.batch)
                if deleted and deleted[0]:  # Redis 7 drops pending entries trimmed away and names them here
                    self.losses.add(c, GROUP, len(deleted[0]), "trimmed away while pending")
                # Redis 6.2 hands them over without even their id: the trimmer acknowledges and counts them.
                claimed = [e for e in claimed if e[0] is not None]
                if claimed:
                    await self._handle([(self.keys.events(c), claimed)])
                start = start.decode() if isinstance(start, bytes) else start
                if start == "0-0":
                    break

    async def run(self, stop: asyncio.Event, claim_every_s: float = 5.0) -> None:
        """Handle finishes until ``stop``. A failure (PostgreSQL or Redis away) ends the run with the
        entries still pending, for the app's supervisor to start it again after a backoff."""
        loop = asyncio.get_running_loop()
        next_claim = next_prune = 0.0
        started = False
        while not stop.is_set():
            try:
                if not started:
                    await self.ensure_groups()
                    await self.drain_own_pending()
                    started = True
                if loop.time() >= next_claim:
                    await self.claim_abandoned()
                    next_claim = loop.time() + claim_every_s
                if loop.time() >= next_prune:
                    await prune_consumers(self.redis, [self.keys.events(c) for c in self.centers], GROUP, self.name)
                    next_prune = loop.time() + PRUNE_EVERY_S
                response = await self._read(">", self.cfg.consumer_block_ms)
                await self._handle(response)
                if sum(len(items) for _, items in response or []) < self.batch:
                    await asyncio.sleep(PACE_S)
            except ResponseError as exc:
                if not stream_vanished(exc):
                    raise
                started = False      # Redis lost its data underneath us: the groups again
