"""The loop-lag monitor sees a stall of the event loop and the collector's pauses, and leaves the
interpreter's GC callbacks as it found them when its app closes (tests start many apps)."""
from __future__ import annotations

import asyncio
import gc
import time

from prometheus_client import CollectorRegistry

from queue_server.ops.loop_lag import TICK_S, LoopLag


async def test_a_stalled_loop_and_a_collection_are_seen() -> None:
    registry = CollectorRegistry()
    monitor = LoopLag(registry)
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    try:
        await asyncio.sleep(10 * TICK_S)
        assert registry.get_sample_value("event_loop_lag_seconds_count") >= 5
        assert registry.get_sample_value("event_loop_lag_seconds_bucket", {"le": "0.1"}) == \
            registry.get_sample_value("event_loop_lag_seconds_count")          # nothing stalled yet
        time.sleep(0.3)                                                         # a callback that holds the loop
        await asyncio.sleep(2 * TICK_S)
        count = registry.get_sample_value("event_loop_lag_seconds_count")
        assert count - registry.get_sample_value("event_loop_lag_seconds_bucket", {"le": "0.1"}) == 1
        assert registry.get_sample_value("event_loop_lag_seconds_sum") >= 0.25

        before = registry.get_sample_value("gc_pause_seconds_count", {"generation": "2"})
        gc.collect()
        assert registry.get_sample_value("gc_pause_seconds_count", {"generation": "2"}) == before + 1
    finally:
        stop.set()
        await task
        await monitor.close()
    assert monitor._on_gc not in gc.callbacks
