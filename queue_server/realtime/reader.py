"""The one stream reader of this process: XREAD over the streams of the centers the process needs
(one read per node on a Redis Cluster), each entry decoded once and handed to the hub. It survives
Redis restarts and failovers by reconnecting and going on from the last id it saw, and notices a
Redis that lost its data by the centers' epochs changing.

A process needs a center while a socket of it is open here (a screen, a display, a session's page),
and for ``follow_grace_s`` after the last one goes, so a reconnecting hall does not make it stop and
start again; and every center once something in the process wants them all (the ops figures, kept
from the first dashboard on). So a sockets process that holds the screens of some centers reads only
their streams: behind a proxy that sends each center's sockets to one process, N sockets processes
read every event once between them instead of N times, and a process with no socket reads nothing."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

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
    def __init__(self, redis: Redis, nodes: StreamNodes, keys: Keys, hub: Hub, config: RealtimeConfig) -> None:
        self.redis, self.nodes = redis, nodes
        self.keys = keys
        self.hub = hub
        self.config = config
        self.last: dict[str, str] = {}          # followed center -> last stream id handed to the hub
        self.epochs: dict[str, str] = {}        # followed center -> its epoch when last checked
        self.wanted: dict[str, int] = {}        # center -> what here needs its events now (sockets, pages)
        self.everything = False                 # every center followed for good (follow_all)
        self.connected = False
        self.reconnects = 0
        self._center_of: dict[bytes, str] = {}
        self._idle: dict[str, float] = {}       # followed, wanted by nothing since (monotonic)
        self._pinning: dict[str, asyncio.Future[None]] = {}
        self._changed = asyncio.Event()         # centers followed or dropped: the reads start again
        self._backoff = 0.2

    # ---- which centers ------------------------------------------------------------------------------
    async def follow(self, center: str) -> None:
        """Read ``center``'s stream (from where it ends now, if not read yet) until as many ``unfollow``.
        Called before a socket subscribes to the hub and reads its opening: every event after what
        the opening sends then reaches it."""
        self.wanted[center] = self.wanted.get(center, 0) + 1
        self._idle.pop(center, None)
        try:
            await self._followed([center])
        except BaseException:
            self.unfollow(center)
            raise

    def unfollow(self, center: str) -> None:
        """One of ``follow``'s wants of ``center`` ended; with none left it is read for the grace
        period more, then dropped."""
        left = self.wanted.get(center, 0) - 1
        if left > 0:
            self.wanted[center] = left
            return
        self.wanted.pop(center, None)
        if center in self.last and not self.everything:
            self._idle[center] = time.monotonic()

    async def follow_all(self, centers: Iterable[str]) -> None:
        """Read every one of ``centers`` from now on, for good."""
        self.everything = True
        self._idle.clear()
        await self._followed(list(centers))

    async def _followed(self, centers: list[str]) -> None:
        """Until each of ``centers`` is read: pinned here, or by a pin under way for another caller."""
        new = [c for c in centers if c not in self.last and c not in self._pinning]
        if new:
            pin = asyncio.ensure_future(self._pin(new))
            for c in new:
                self._pinning[c] = pin

            def done(_: asyncio.Future[None]) -> None:
                for c in new:
                    self._pinning.pop(c, None)
            pin.add_done_callback(done)
        for pin in {self._pinning[c] for c in centers if c in self._pinning}:
            await asyncio.shield(pin)

    async def _pin(self, centers: list[str]) -> None:
        """Where each stream ends now and its epoch: its reading starts there ("$", but pinned to a real
        id, so an entry added before the next XREAD is never skipped)."""
        stored = await current_epochs(self.redis, self.keys, centers)
        epochs = {c: stored[c] or await ensure_epoch(self.redis, self.keys, c) for c in centers}
        async with self.redis.pipeline(transaction=False) as pipe:
            for c in centers:
                pipe.xrevrange(self.keys.events(c), "+", "-", count=1)
            tails = await pipe.execute()
        for c, t in zip(centers, tails):
            self._center_of[self.keys.events(c).encode()] = c
            self.epochs[c] = epochs[c]
            self.last[c] = t[0][0].decode() if t else "0-0"
            if c not in self.wanted and not self.everything:   # its want ended while pinning
                self._idle[c] = time.monotonic()
        self._changed.set()

    def _drop_idle(self) -> None:
        now = time.monotonic()
        gone = [c for c, since in self._idle.items() if now - since >= self.config.follow_grace_s]
        for c in gone:
            del self._idle[c]
            self.last.pop(c, None)
            self.epochs.pop(c, None)
        if gone:
            self._changed.set()

    async def check_epochs(self, centers: list[str]) -> None:
        """Close the sockets of any center whose epoch changed: Redis lost that history."""
        stored = await current_epochs(self.redis, self.keys, centers)
        for c in centers:
            if c not in self.epochs:   # dropped meanwhile
                continue
            now = stored[c] or await ensure_epoch(self.redis, self.keys, c)
            before = self.epochs[c]
            self.epochs[c] = now
            if before != now:
                n = self.hub.reset(c, "stream history lost")
                log.warning("epoch of %s changed (Redis lost its data): closed %d sockets", c, n)

    # ---- reading ------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._changed.clear()
            centers = list(self.last)
            try:
                if not centers:   # nothing to read until a center is followed
                    waiting = asyncio.ensure_future(self._changed.wait())
                    if not await _first(waiting, asyncio.ensure_future(stop.wait())):
                        waiting.cancel()
                    continue
                await self.nodes.on_each(centers, lambda node, cs: self._follow(node, cs, stop))
            except INTERRUPTIONS as exc:
                self.connected = False
                self.reconnects += 1
                log.warning("stream reader lost Redis (%s); retrying in %.1f s", exc, self._backoff)
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 5.0)

    async def _follow(self, node: Redis, centers: list[str], stop: asyncio.Event) -> None:
        """Read one node's streams until ``stop`` or the centers followed change, their epochs checked
        first and every so often."""
        streams = [self.keys.events(c) for c in centers]
        read = StreamRead(("XREAD", "COUNT", BATCH, "BLOCK", self.config.block_ms), streams,
                          [self.last[c] for c in centers])
        next_check = 0.0
        while not stop.is_set() and not self._changed.is_set():
            if time.monotonic() >= next_check:
                await self.check_epochs(centers)
                self._drop_idle()
                next_check = time.monotonic() + self.config.epoch_check_s
            self.connected = True
            brought = await self._read_once(node, read)
            self._backoff = 0.2
            if brought < BATCH and self.config.gather_ms:
                # One XREAD names every followed center's stream of the node: at a busy hour, reading per
                # event or two costs more than the events. A few ms of gathering keeps screens well inside 100 ms.
                await asyncio.sleep(self.config.gather_ms / 1000)

    async def _read_once(self, node: Redis, read: StreamRead) -> int:
        """Read and publish what is new; returns how many entries the read brought. A blocked read is
        given up when the centers followed change (its connection closed, the next read on another):
        a center followed now is read at once, not after the block times out."""
        reading = asyncio.ensure_future(read(node))
        if not await _first(reading, asyncio.ensure_future(self._changed.wait())):
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            if reading.cancelled() or reading.exception() is not None:   # else it ended with its reply anyway
                return 0
        reply = reading.result()
        brought = 0
        for stream, entries in reply or ():
            brought += len(entries)
            center = self._center_of.get(stream if isinstance(stream, bytes) else stream.encode())
            if center is None or center not in self.last:   # dropped while the read was out
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


async def _first(first: asyncio.Future[object], second: asyncio.Future[object]) -> bool:
    """Wait until either of two futures is done; True when ``first`` is. ``second`` is cancelled
    either way; ``first`` only if the wait itself is (the caller decides what a lost race costs)."""
    try:
        await asyncio.wait((first, second), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        first.cancel()
        raise
    finally:
        second.cancel()
    return first.done()
