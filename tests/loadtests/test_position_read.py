"""``python -m loadtests.position_read``: a waiting ticket's position read behind a long line, its
matters' recent handling kept and taken from the samples; both answer the same estimate."""
from __future__ import annotations

from loadtests.position_read import MODES, measure
from queue_server.config import Settings


async def test_both_ways_of_reading_the_line_are_timed(settings: Settings) -> None:
    out = await measure(settings.redis_url, settings.key_prefix, reads=20, ahead=12, matters=4)
    assert all(out[m]["redis_us"] > 0 and out[m]["client_us"] > 0 for m in MODES)
    assert out["kept"]["wait_s"] == out["from samples"]["wait_s"] > 0
    assert set(out["kept / from samples"]) == {"redis_us", "client_us"}
