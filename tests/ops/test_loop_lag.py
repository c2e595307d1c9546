"""The loop-lag monitor sees a stall of the event loop, names the function that held it, and sees
the collector's pauses; and leaves the interpreter's GC callbacks as it found them when its app
closes (tests start many apps)."""
from __future__ import annotations

import asyncio
import gc
import time

from prometheus_client import CollectorRegistry

from queue_server.ops.loop_lag import TICK_S, LoopLag


def hold_the_loop(seconds: float) -> None:
    """A callback that keeps the event loop's thread for ``seconds`` (a fan-out burst, a big JSON)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(1000))


async def test_a_stalled_loop_its_culprit_and_a_collection_are_seen() -> None:
    registry = CollectorRegistry()
    monitor = LoopLag(registry)
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    try:
        await asyncio.sleep(10 * TICK_S)
        ticks = registry.get_sample_value("event_loop_lag_seconds_count")
        assert ticks >= 5
        assert registry.get_sample_value("event_loop_lag_seconds_bucket", {"le": "0.1"}) == ticks   # nothing stalled yet
        hold_the_loop(0.6)
        await asyncio.sleep(2 * TICK_S)
        count = registry.get_sample_value("event_loop_lag_seconds_count")
        assert count - registry.get_sample_value("event_loop_lag_seconds_bucket", {"le": "0.1"}) == 1
        assert registry.get_sample_value("event_loop_lag_seconds_sum") >= 0.5
        # looked at every 50 ms once over 100 ms late: about 8 times in the 400-450 ms left, always in the culprit
        culprit = registry.get_sample_value("event_loop_stall_samples_total", {"where": "tests.ops.test_loop_lag.hold_the_loop"})
        assert culprit is not None and culprit >= 4
        assert {s.labels["where"] for m in registry.collect() for s in m.samples
                if s.name == "event_loop_stall_samples_total"} == {"tests.ops.test_loop_lag.hold_the_loop"}

        before = registry.get_sample_value("gc_pause_seconds_count", {"generation": "2"})
        cpu_before = registry.get_sample_value("gc_cpu_seconds_count", {"generation": "2"})
        gc.collect()
        assert registry.get_sample_value("gc_pause_seconds_count", {"generation": "2"}) == before + 1
        assert registry.get_sample_value("gc_cpu_seconds_count", {"generation": "2"}) == cpu_before + 1
        # the CPU a collection took never exceeds its wall time (the thread's clock only runs while it does)
        assert (registry.get_sample_value("gc_cpu_seconds_sum", {"generation": "2"})
                <= registry.get_sample_value("gc_pause_seconds_sum", {"generation": "2"}) + 1e-3)
    finally:
        stop.set()
        await task
        await monitor.close()
    assert monitor._on_gc not in gc.callbacks
