"""``python -m loadtests.metrics_scrape``: every scrape timed with the loop's longest hold beside it;
a process doing the record's work (``all``) has each center's lag in its text, a sockets one not."""
from __future__ import annotations

from loadtests.metrics_scrape import measure
from tests.support import Services


async def test_each_scrape_is_timed_and_the_records_gauges_are_where_it_is_done(services: Services) -> None:
    out = {tier: await measure(services.redis_url, services.admin_dsn, centers=4, waiting=1, scrapes=3, tier=tier)
           for tier in ("all", "sockets")}
    for result in out.values():
        assert len(result["runs"]) == 3
        assert all(r["wall_ms"] > 0 and r["held_ms"] > 0 and r["cpu_ms"] > 0 for r in result["runs"])
    # the record's lag (1) and its unrecorded events (2) for each of the 4 centers, and the SMS outbox (2)
    assert out["all"]["series"] - out["sockets"]["series"] >= 4 * 3 + 2
