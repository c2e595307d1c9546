"""``python -m loadtests.record_lag``: every center's lag read at each ask, in a call of the script
per ``LAG_BATCH`` centers, each ask's CPU and Redis's time told."""
from __future__ import annotations

from loadtests.record_lag import measure
from queue_server.config import Settings
from queue_server.record.persister import LAG_BATCH


async def test_every_center_is_told_in_a_call_per_batch(settings: Settings) -> None:
    centers = LAG_BATCH + 8
    out = await measure(settings.redis_url, settings.key_prefix, centers=centers, asks=3, events=5, pending=2, groups=1)
    assert out["centers_told"] == centers
    assert out["calls_per_ask"] == 2
    assert out["cpu_ms_per_ask"] > 0 and out["redis_ms_per_ask"] > 0 and out["redis_us_per_call"] > 0
