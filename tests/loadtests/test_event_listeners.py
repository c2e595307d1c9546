"""``python -m loadtests.event_listeners``: the stream's real events decoded and handed to each hub
listener as the app composes them, every one timed, none skipped."""
from __future__ import annotations

from loadtests.event_listeners import measure
from loadtests.request_path import WINDOWS
from queue_server.config import Settings


async def test_each_listener_is_timed_over_every_event_of_the_visits(settings: Settings) -> None:
    out = await measure(settings.redis_url, settings.database_url, settings.key_prefix, 2 * len(WINDOWS), rounds=2)
    assert out["kinds"]["ticket.issued"] == out["kinds"]["ticket.finished"] == 2 * len(WINDOWS)
    assert out["events"] == sum(out["kinds"].values())
    assert set(out["cpu_us_per_event"]) == {"decode", "ops feed", "recently served", "session relay"}
    assert all(us > 0 for us in out["cpu_us_per_event"].values())
    assert all(r > 0 for r in out["listeners / decode"].values())
