"""A consumer group on every center's stream, for slow work that follows events apart from the
record (the residents' notices, which go out while PostgreSQL is away; work that writes PostgreSQL
follows the record's own read instead, persister.py): at-least-once, so what a subclass does with
a batch must be idempotent. After a crash it re-reads its own pending entries, takes over entries a
dead consumer left (``XAUTOCLAIM``), and counts entries trimmed away before it read them."""
from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from ..engine.keys import Keys
from ..engine.streams import StreamRead, acknowledge
from .persister import PRUNE_EVERY_S, claim_abandoned, consumer_name, prune_consumers, stream_vanished
from .trim import Losses


class GroupConsumer:
    group = ""
    pace_s = 0.1   # after a short read, let events gather: one read over every stream per batch, not per event

    def __init__(self, redis: Redis, keys: Keys, centers: list[str], block_ms: int, name: str | None = None,
                 batch: int = 200, claim_idle_ms: int = 30_000, losses: Losses | None = None) -> None:
        self.redis, self.keys, self.centers, self.block_ms = redis, keys, centers, block_ms
        self.losses = losses or Losses()
        self._center_of = {keys.events(c): c for c in centers}
        self.name = name or consumer_name()
        self.batch, self.claim_idle_ms = batch, claim_idle_ms
        self._new = StreamRead(("XREADGROUP", "GROUP", self.group, self.name, "COUNT", batch, "BLOCK", block_ms),
                               list(self._center_of), [">"] * len(centers))

    async def take(self, entries: list[tuple[str, dict[bytes, bytes]]]) -> None:
        """Do the work of a batch of ``(center, fields)``; entries are acknowledged once it returns."""
        raise NotImplementedError

    async def ensure_groups(self) -> None:
        for c in self.centers:
            try:
                await self.redis.xgroup_create(self.keys.events(c), self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def _handle(self, response: Any) -> None:
        entries: list[tuple[str, dict[bytes, bytes]]] = []
        acks: dict[str, list[bytes]] = {}
        for key, items in response or []:
            stream = key.decode() if isinstance(key, bytes) else key
            gone = 0
            for sid, fields in items:
                acks.setdefault(stream, []).append(sid)
                if not fields:  # trimmed away while pending (redis-py reads it as {})
                    gone += 1
                else:
                    entries.append((self._center_of[stream], fields))
            if gone:
                self.losses.add(self._center_of[stream], self.group, gone, "trimmed away while pending")
        if entries:
            await self.take(entries)
        await acknowledge(self.redis, self.group, acks)

    async def drain_own_pending(self) -> None:
        while True:
            response = await self.redis.xreadgroup(self.group, self.name, {s: "0" for s in self._center_of},
                                                   count=self.batch)
            if not any(items for _, items in response or []):
                return
            await self._handle(response)

    async def claim_abandoned(self) -> None:
        async for claimed in claim_abandoned(self.redis, self._center_of, self.group, self.name, self.claim_idle_ms,
                                             self.batch, self.losses):
            await self._handle(claimed)

    async def run(self, stop: asyncio.Event, claim_every_s: float = 5.0) -> None:
        """Handle events until ``stop``. A failure (PostgreSQL or Redis away) ends the run with the
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
                    await prune_consumers(self.redis, [self.keys.events(c) for c in self.centers], self.group, self.name)
                    next_prune = loop.time() + PRUNE_EVERY_S
                response = await self._new(self.redis)
                await self._handle(response)
                if sum(len(items) for _, items in response or []) < self.batch:
                    await asyncio.sleep(self.pace_s)
            except ResponseError as exc:
                if not stream_vanished(exc):
                    raise
                started = False      # Redis lost its data underneath us: the groups again
