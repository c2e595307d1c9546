"""The collector's thresholds: the measured default, or the environment's; and what each freeze
collects and keeps."""
from __future__ import annotations

import asyncio
import gc
import weakref

from queue_server.gc_freeze import THRESHOLD, LongLived, threshold


def test_thresholds_default_to_the_measured_ones_or_the_setting() -> None:
    assert threshold("") == THRESHOLD == (10_000, 10, 10)
    assert threshold("700,10,10") == (700, 10, 10)
    gc.set_threshold(*threshold(""))   # what every server process does at start
    assert gc.get_threshold() == THRESHOLD


class Node:
    def __init__(self) -> None:
        self.me = self   # a cycle: only the collector frees it


async def test_each_freeze_collects_what_arrived_since_and_keeps_the_living_out_of_the_collectors_way() -> None:
    gc.disable()   # no automatic collection meanwhile: only the freezer's own
    stop = asyncio.Event()
    task = asyncio.create_task(LongLived.run(stop, freeze_s=0.05, full_s=0))
    try:
        kept, dropped = Node(), Node()
        gone = weakref.ref(dropped)
        del dropped
        for _ in range(100):
            await asyncio.sleep(0.02)
            if gone() is None and gc.get_freeze_count():
                break
        assert gone() is None                 # the cycle dropped before a freeze was collected, not frozen
        assert gc.get_freeze_count() > 0      # and what lived was frozen
        assert kept.me is kept
    finally:
        stop.set()
        await task
        gc.unfreeze()
        gc.enable()
