"""``python -m loadtests.record_write``: the same day of events recorded with the schema as migrated
and as before migration 081; both record every event and ticket, and only the first updates the
tickets' rows in place (HOT)."""
from __future__ import annotations

from loadtests.harness import fresh_database
from loadtests.record_write import BEFORE_081, WAYS, measure
from tests.support import Services


async def test_the_tickets_updates_are_hot_only_as_migrated(services: Services) -> None:
    async with fresh_database(services.admin_dsn) as now, fresh_database(services.admin_dsn, until=BEFORE_081) as before:
        out = await measure({WAYS[0]: now, WAYS[1]: before}, tickets=300, centers=5, batch=50)
    assert out["events"] == 1200
    for way in WAYS:
        assert out[way]["tickets"] == 300 and out[way]["events_recorded"] == 1200
        assert out[way]["ticket_updates"] > 300
    assert out[WAYS[0]]["hot_pct"] > 80
    assert out[WAYS[1]]["hot_pct"] == 0
