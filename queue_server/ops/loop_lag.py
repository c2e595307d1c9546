"""How late this process's event loop runs what is due, what holds it when it is late, and how long
the garbage collector stops it.

Every request and socket of the process waits while one callback runs or the collector walks the
heap, so a slow tail with idle cores is a stalled loop: ``event_loop_lag_seconds`` is how late a
timer due every ``TICK_S`` actually ran (a bare ``call_later`` callback, timed on the monotonic clock
rather than the loop's cached one, which uvloop reads once per turn); ``event_loop_stall_samples`` says where the
loop's thread was, looked at by a watchdog thread every ``WATCH_S`` while the timer is more than
``STALL_S`` overdue (asyncio's own ``slow_callback_duration`` needs debug mode, which costs far
more); and ``gc_pause_seconds`` each collection's duration by generation (``gc.callbacks``), with
``gc_cpu_seconds`` the CPU the thread spent in it: on a busy machine a pause far longer than its CPU
is the process waiting for a core mid-collection, not the collector's work. Cheap
by design: 20 timer and 20 watchdog wakeups a second (each wakeup of an idle process costs ~70 µs
on the 2-core machines, so ~0.3 % of a core idle, less under load, when the loop is awake anyway),
four clock reads per collection, a stack walk only while stalled."""
from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

TICK_S = 0.05
WATCH_S = 0.05
STALL_S = 0.1
STALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ROOT = str(Path(__file__).resolve().parents[2])   # the project's packages: queue_server, evaluation, ...


def where(frame: FrameType | None) -> str:
    """A stalled thread's place, few enough to be a label: the innermost function of this project
    (``module.function``; its files, not installed packages) and, when the thread is deeper in a
    library, that library's innermost function after it. File names are resolved against the
    working directory: a server started from the project's folder has relative ones."""
    inner = ours = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "?")
        name = f"{module}.{frame.f_code.co_name}"
        inner = inner or name
        path = os.path.abspath(frame.f_code.co_filename)
        if path.startswith(_ROOT) and "site-packages" not in path:
            ours = name
            break
        frame = frame.f_back
    if ours is None:
        return inner or "unknown"
    return ours if ours == inner else f"{ours} > {inner}"


class LoopLag:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = Histogram("event_loop_lag_seconds", f"How late a timer due every {TICK_S} s ran",
                             registry=registry, buckets=STALL_BUCKETS)
        self.stalled_in = Counter("event_loop_stall_samples", f"Where the loop's thread was, looked at every {WATCH_S} s"
                                  f" while its timer was over {STALL_S} s late", ["where"], registry=registry)
        pauses = Histogram("gc_pause_seconds", "Garbage collections by generation, how long each stopped the process",
                           ["generation"], registry=registry, buckets=STALL_BUCKETS)
        cpu = Histogram("gc_cpu_seconds", "Garbage collections by generation, the CPU time each took",
                        ["generation"], registry=registry, buckets=STALL_BUCKETS)
        self._pause_of = [pauses.labels(str(g)) for g in range(3)]
        self._cpu_of = [cpu.labels(str(g)) for g in range(3)]
        self._gc_began = self._gc_cpu_began = 0.0
        self._due = 0.0     # when the timer should next run (monotonic); 0 while not running
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_began, self._gc_cpu_began = time.perf_counter(), time.thread_time()
        else:
            self._pause_of[info["generation"]].observe(time.perf_counter() - self._gc_began)
            self._cpu_of[info["generation"]].observe(time.thread_time() - self._gc_cpu_began)

    def _watch(self, loop_thread: int, done: threading.Event) -> None:
        while not done.wait(WATCH_S):
            if self._due and time.monotonic() - self._due > STALL_S:
                self.stalled_in.labels(where(sys._current_frames().get(loop_thread))).inc()

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        done = threading.Event()
        watchdog = threading.Thread(target=self._watch, args=(threading.get_ident(), done), daemon=True,
                                    name="loop-watchdog")

        def tick() -> None:
            nonlocal timer
            now = time.monotonic()
            self.lag.observe(max(0.0, now - self._due))
            self._due = now + TICK_S
            timer = loop.call_later(TICK_S, tick)

        self._due = time.monotonic() + TICK_S
        timer = loop.call_later(TICK_S, tick)
        watchdog.start()
        try:
            await stop.wait()
        finally:
            timer.cancel()
            self._due = 0.0
            done.set()
            watchdog.join()

    async def close(self) -> None:
        """The collector's callbacks are the interpreter's: an app closed (tests start many) leaves none."""
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
