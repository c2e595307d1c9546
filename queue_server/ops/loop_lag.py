"""How late this process's event loop runs what is due, and how long the garbage collector stops it.

Every request and socket of the process waits while one callback runs or the collector walks the
heap, so a slow tail with idle cores is a stalled loop: ``event_loop_lag_seconds`` is how late a
timer due every ``TICK_S`` actually ran (sampled by a task, timed on the monotonic clock rather than
the loop's cached one, which uvloop reads once per turn), and ``gc_pause_seconds`` each collection's
duration by generation (``gc.callbacks``). Cheap by design: 50 timer wakeups a second and two clock
reads per collection (``loadtests/cost_model.py`` measures the server with it on)."""
from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

TICK_S = 0.02
STALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LoopLag:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = Histogram("event_loop_lag_seconds", f"How late a timer due every {TICK_S} s ran",
                             registry=registry, buckets=STALL_BUCKETS)
        pauses = Histogram("gc_pause_seconds", "Garbage collections by generation, how long each stopped the process",
                           ["generation"], registry=registry, buckets=STALL_BUCKETS)
        self._pause_of = [pauses.labels(str(g)) for g in range(3)]
        self._gc_began = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_began = time.perf_counter()
        else:
            self._pause_of[info["generation"]].observe(time.perf_counter() - self._gc_began)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            due = time.monotonic() + TICK_S
            await asyncio.sleep(TICK_S)
            self.lag.observe(max(0.0, time.monotonic() - due))

    async def close(self) -> None:
        """The collector's callbacks are the interpreter's: an app closed (tests start many) leaves none."""
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
