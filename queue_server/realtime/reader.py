"""The one stream reader of this process: XREAD over every center's stream (one per node on a Redis
Cluster), each entry decoded once and handed to the hub. It survives Redis restarts and failovers by
reconnecting and going on from the last id it saw, and notices a Redis that lost its data by the
centers' epochs changing."""
from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis

from ..engine.keys import Keys
from ..engine.streams import INTERRUPTIONS, StreamNodes, StreamRead
from .config import RealtimeConfig
from .epoch import current_epochs, ensure_epoch
from .events import decode
from .hub import Hub

log = logging.getLogger("queue_server.realtime")
BATCH = 500


class StreamReader:
    def __init__(self, redis: Redis, nodes: StreamNodes, keys: Keys, centers: list[str], hub: Hub,
                 config: RealtimeConfig) -> None:
        self.redis, self.nodes = redis, nodes
        self.keys = keys
        self.hub = hub
        self.config = config
        self.centers = centers
        self._center_of = {keys.events(c).encode(): c for c in centers}
        self.last: dict[str, str] = {}          # center -> last stream id handed to the hub
        self.epochs: dict[str, str] = {}
        self.connected = False
        self.reconnects = 0
        self._backoff = 0.2

    async def _positions(self) -> dict[str, str]:
        """Where each stream ends now: the reader starts there ("$", but pinned to a real id so an
        entry added between two XREADs is never skipped)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for c in self.centers:
                pipe.xrevrange(self.keys.events(c), "+", "-", count=1)
            tails = await pipe.execute()
        return {c: (t[0][0].decode() if t else "0-0") for c, t in zip(self.centers, tails)}

    async def prepare(self) -> None:
        """Pin where reading starts BEFORE the app takes connections: a socket opened earlier than
        that could otherwise miss the events between its opening and the reader's start."""
        self.last = await self._positions()
        await self.check_epochs()

    async def check_epochs(self, centers: list[str] | None = None) -> None:
        """Close the sockets of any center whose epoch changed: Redis lost that history."""
        centers = self.centers if centers is None else centers
        stored = await current_epochs(self.redis, self.keys, centers)
        for c in centers:
            now = stored[c] or await ensure_epoch(self.redis, self.keys, c)
            before = self.epochs.get(c)
            self.epochs[c] = now
            if before is not None and before != now:
                n = self.hub.reset(c, "stream history lost")
                log.warning("epoch of %s changed (Redis lost its data): closed %d sockets", c, n)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.nodes.on_each(self.centers, lambda node, centers: self._follow(node, centers, stop))
            except INTERRUPTIONS as exc:
                self.connected = False
                self.reconnects += 1
                log.warning("stream reader lost Redis (%s); retrying in %.1f s", exc, self._backoff)
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 5.0)

    async def _follow(self, node: Redis, centers: list[str], stop: asyncio.Event) -> None:
        """Read one node's streams until ``stop``, their epochs checked first and every so often."""
        streams = [self.keys.events(c) for c in centers]
        read = StreamRead(("XREAD", "COUNT", BATCH, "BLOCK", self.config.block_ms), streams,
                          [self.last[c] for c in centers])
        next_check = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_check:
                await self.check_epochs(centers)
                next_check = time.monotonic() + self.config.epoch_check_s
            self.connected = True
            brought = await self._read_once(node, read)
            self._backoff = 0.2
            if brought < BATCH and self.config.gather_ms:
                # One XREAD names every center's stream of the node: at a busy hour, reading per event or
                # two costs more than the events. A few ms of gathering keeps screens well inside 100 ms.
                await asyncio.sleep(self.config.gather_ms / 1000)

    async def _read_once(self, node: Redis, read: StreamRead) -> int:
        """Read and publish what is new; returns how many entries the read brought."""
        reply = await read(node)
        brought = 0
        for stream, entries in reply or ():
            brought += len(entries)
            center = self._center_of.get(stream if isinstance(stream, bytes) else stream.encode())
            if center is None:
                continue
            for entry_id, fields in entries:
                event = decode(center, entry_id, fields)
                if event is not None:
                    self.hub.publish(event)
                # Only once handed on: a reader that fails mid-batch starts again at this event, not past it.
                self.last[center] = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            if entries:
                read.move(self.keys.events(center), self.last[center])
        return brought
