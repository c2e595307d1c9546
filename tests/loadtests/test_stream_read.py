"""``python -m loadtests.stream_read``: a read over many streams kept packed and packed afresh, both
timed, both bringing every entry added."""
from __future__ import annotations

from loadtests.stream_read import MODES, measure
from queue_server.config import Settings


async def test_both_ways_of_reading_are_timed_and_bring_the_same_entries(settings: Settings) -> None:
    out = await measure(settings.redis_url, settings.key_prefix, reads=20, streams=40, entries=3)
    assert all(out[m]["client_us"] > 0 for m in MODES)
    assert out[MODES[0]]["entries_per_read"] == out[MODES[1]]["entries_per_read"] == 3
    assert out["kept / afresh"]["client_us"] > 0
