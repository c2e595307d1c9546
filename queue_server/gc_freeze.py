"""Keep the long-lived out of the garbage collector's way. A server holding thousands of sockets has
millions of objects that live as long as the sockets do; each full collection walked all of them
(up to 0.9 s with 6,000 sockets, every few seconds while sockets open, every ~20 s after), stalling
every request and socket of the process. Every ``QUEUE_GC_FREEZE_S`` (2 s) what arrived since the
last freeze is collected, and the objects alive then are moved out of the collector's generations
(``gc.freeze``): they are still freed by reference counting, and new objects are collected as usual.
Cyclic garbage among frozen objects (a closed socket's) is only found by the full collection run
every ``QUEUE_GC_FULL_S`` (0: never).

Why the collection at each freeze, and so often: the young generation is not bounded by its
threshold. Its count is allocations less deallocations, and a process that replaces old objects with
new ones (a poller's records read again, the figures' tickets) frees as much as it makes, so the
count stays low while the list of young objects grows. At the city's load a sockets process's
"young" collection, every ~5 s, walked 10 s of such survivors: up to 50 ms of CPU, 250 ms of wall
time on a busy machine (``gc_cpu_seconds``, ``gc_pause_seconds``), stalling every screen of the
process. Collected every 2 s, what is young is 2 s old at most.

Young collections start when the objects allocated and not yet freed pass the first threshold:
Python's 700 is passed by one request's short-lived objects, so with 1,000 sockets and 200
operations a second a server collected 16 times a second (246 young and 17 middle collections in
15 s, 204 ms of pauses); at 10,000 it did not collect once in the same 15 s, the objects being
freed by their reference counts first (loadtests/README.md, "Fan-out cuts").
``QUEUE_GC_THRESHOLD`` ("gen0,gen1,gen2") sets other thresholds."""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import time

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from .api.endpoints import Doc
from .supervisor import Supervisor

log = logging.getLogger("queue_server.gc")
THRESHOLD = (10_000, 10, 10)


def threshold(setting: str) -> tuple[int, ...]:
    """The collector's thresholds from ``QUEUE_GC_THRESHOLD`` (empty: ``THRESHOLD``)."""
    return tuple(int(n) for n in setting.split(",")) if setting else THRESHOLD


class LongLived:
    routes: list[BaseRoute] = []
    docs: list[Doc] = []

    async def start(self, app: Starlette, work: Supervisor) -> None:
        freeze_s = float(os.environ.get("QUEUE_GC_FREEZE_S", "2"))
        full_s = float(os.environ.get("QUEUE_GC_FULL_S", "3600"))
        gc.set_threshold(*threshold(os.environ.get("QUEUE_GC_THRESHOLD", "")))
        if freeze_s > 0:
            work.run("gc-freeze", lambda: self.run(work.stop, freeze_s, full_s))

    @staticmethod
    async def run(stop: asyncio.Event, freeze_s: float, full_s: float) -> None:
        next_full = time.monotonic() + full_s
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), freeze_s)
            except asyncio.TimeoutError:
                pass
            if full_s > 0 and time.monotonic() >= next_full:
                t0 = time.perf_counter()
                gc.unfreeze()
                found = gc.collect()
                log.info("full collection: %d unreachable objects, %.0f ms", found, (time.perf_counter() - t0) * 1000)
                next_full = time.monotonic() + full_s
            else:
                gc.collect()   # the frozen are not walked: only what arrived since the last freeze
            gc.freeze()


component = LongLived()
