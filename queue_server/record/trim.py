"""Trimming the centers' event streams by what their readers still need (trim_events.lua), not by a
fixed length: an entry goes once it is older than the screens' replay window and every consumer
group (the record, the residents' notices) has read and acknowledged it, so a slow or stopped persister
never loses an event to the trim. Only a stream past ``cap`` entries (half of QUEUE_STREAM_MAXLEN,
whose ``MAXLEN ~`` on every XADD stays as the last resort should no trimmer run) drops the oldest
unread; those, and any entry a consumer finds trimmed away, are counted as lost and logged."""
from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from ..engine.keys import Keys
from ..engine.scripts import call_each, script

log = logging.getLogger("queue_server.trim")
TRIM_EVERY_S = 10.0
MOST_PER_CALL = 2_000        # entries one call looks at and removes: a long backlog goes over a few rounds


class Losses:
    """Events a consumer group will never read, per (center, group), for ``/metrics``."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def add(self, center: str, group: str, n: int, how: str) -> None:
        self.counts[(center, group)] = self.counts.get((center, group), 0) + n
        log.error("%d events of %s lost to the %s group: %s", n, center, group, how)


class Trimmer:
    def __init__(self, redis: Redis, keys: Keys, centers: list[str], keep: int, cap: int, losses: Losses) -> None:
        self.redis, self.keys, self.centers = redis, keys, centers
        self.keep, self.cap, self.losses = keep, max(cap, keep), losses   # a cap below the window: the window is it
        self._script = script(redis, "trim_events")

    async def trim(self) -> int:
        """One call per center, pipelined; returns the entries removed."""
        replies = await call_each(self.redis, self._script, [([self.keys.events(c)], [self.keep, self.cap, MOST_PER_CALL])
                                                              for c in self.centers])
        removed = 0
        for c, (n, *lost) in zip(self.centers, replies):
            removed += int(n)
            for group, count in zip(lost[::2], lost[1::2]):
                name = group.decode() if isinstance(group, bytes) else group
                self.losses.add(c, name, int(count), f"the stream passed {self.cap} entries before it read them")
        return removed

    async def run(self, stop: asyncio.Event, every_s: float = TRIM_EVERY_S) -> None:
        while not stop.is_set():
            while await self.trim() >= MOST_PER_CALL:
                pass                # a long backlog: on at once
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except asyncio.TimeoutError:
                pass
