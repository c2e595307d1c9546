"""``python -m loadtests.request_path``: whole visits through the app in process, every request
answered as it should be, and the CPU per operation, Redis's time in the queue scripts per operation and the
profile's hottest functions given."""
from __future__ import annotations

from loadtests.request_path import WINDOWS, measure
from queue_server.config import Settings


async def test_whole_visits_are_measured_and_profiled(settings: Settings) -> None:
    out = await measure(settings.redis_url, settings.database_url, settings.key_prefix, 2 * len(WINDOWS), profile=True)
    assert out["operations"] == 4 * 2 * len(WINDOWS) and out["cpu_us_per_op"] > 0
    # every operation is one script call at least (Redis's counts are every client's: never fewer)
    assert out["script_calls_per_op"] >= 1 and out["redis_script_us_per_op"] > 0
    assert out["own_pct"] and all(pct >= 0 for _, pct in out["own_pct"])
