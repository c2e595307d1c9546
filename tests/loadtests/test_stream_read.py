"""``python -m loadtests.stream_read``: a read over many streams kept packed and packed afresh, both
timed, both bringing every entry added; a group's acknowledgement in one write and through redis-py's
pipeline, both timed, both acknowledging every entry read."""
from __future__ import annotations

from loadtests.stream_read import ACKS, MODES, measure, measure_acks
from queue_server.config import Settings


async def test_both_ways_of_reading_are_timed_and_bring_the_same_entries(settings: Settings) -> None:
    out = await measure(settings.redis_url, settings.key_prefix, reads=20, streams=40, entries=3)
    assert all(out[m]["client_us"] > 0 and out[m]["redis_us"] > 0 for m in MODES)
    assert out[MODES[0]]["entries_per_read"] == out[MODES[1]]["entries_per_read"] == 3
    assert out["kept / afresh"]["client_us"] > 0


async def test_both_ways_of_acknowledging_are_timed_and_acknowledge_every_entry(settings: Settings) -> None:
    out = await measure_acks(settings.redis_url, settings.key_prefix, batches=10, streams=15, entries=2)
    assert all(out[m]["client_us"] > 0 for m in ACKS)
    assert out[ACKS[0]]["acknowledged_per_batch"] == out[ACKS[1]]["acknowledged_per_batch"] == 30
    assert out["one write / pipeline"]["client_us"] > 0
