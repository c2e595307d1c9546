"""How the map reads the network: several centers a call of ``map_counts`` (a center a call on a
cluster), each center's and point's figures its own whichever call it fell in, a place whose
figures did not change keeping its feature; and the points without hours of their own sharing one
opening until the calendar is reloaded."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import network.map
from network.map import Openings
from queue_server.config import Settings
from queue_server.domain.calendar import Calendar, Hours
from tests.support import AUTH, on_a_service_day, running_app

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_each_center_and_point_gets_its_own_figures_across_the_calls(settings: Settings,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network.map, "MAP_BATCH", 3)     # the demo's 14 centers: five calls, the last of two
    async with running_app(on_a_service_day(settings)) as (app, client):
        centers = list(app.state.engine.catalog.centers)
        assert len(centers) > 3 * network.map.MAP_BATCH
        for i, center in enumerate(centers):              # center i: i % 4 walk-ins waiting
            for _ in range(i % 4):
                r = await client.post(f"/api/v1/centers/{center}/tickets", json={"matter": "hrss-001"}, headers=AUTH)
                assert r.status_code == 201, r.text
        last = centers[-1]
        r = await client.post(f"/api/v1/centers/{last}/windows/r1/open", json={"staff_id": f"{last}-s01"}, headers=AUTH)
        assert r.status_code == 200, r.text
        for _ in range(3):
            r = await client.post(f"/api/v1/centers/{last}/tickets",
                                  json={"matter": "hrss-001", "channel": "service_point", "service_point": "sp1"},
                                  headers=AUTH)
            assert r.status_code == 201, r.text

        by_id = {f["id"]: f["properties"] for f in (await client.get("/api/v1/map.geojson")).json()["features"]}
        for i, center in enumerate(centers):
            assert by_id[f"center:{center}"]["waiting"] == i % 4, center
            points = {k: p for k, p in by_id.items() if p["type"] == "service_point" and p["center"] == center}
            assert points, center
            for code, p in points.items():
                expected = 3 if code == f"{last}-sp1" else 0
                assert p["waiting"] == expected, code
                if center != last:
                    assert p["served_now"] is False, code
        assert by_id[f"{last}-sp1"]["served_now"] is True and by_id[f"{last}-sp1"]["predicted_wait_s"] > 0
        assert by_id[f"center:{centers[1]}"]["predicted_wait_s"] > 0

        monkeypatch.setattr(network.map, "FRESH_S", 0.0)  # every request reads again
        for _ in range(100):                              # the catalog swapped in by the network listener's first
            if app.state.network.reloads:                 # subscription is another catalog: every feature anew
                break
            await asyncio.sleep(0.1)
        first = await app.state.network_map.features(app.state)
        r = await client.post(f"/api/v1/centers/{centers[0]}/tickets", json={"matter": "hrss-001"}, headers=AUTH)
        assert r.status_code == 201, r.text
        read = await app.state.network_map.features(app.state)
        again = {f["id"]: f for f in read}
        assert again[f"center:{centers[0]}"]["properties"]["waiting"] == 1          # what changed shows
        kept = [f for f in first if again[f["id"]] is f]                           # the rest is the same feature
        assert len(kept) == len(first) - 1 and all(f["id"] != f"center:{centers[0]}" for f in kept)
        assert await app.state.network_map.features(app.state) is read             # nothing changed: the same read


def test_points_without_hours_of_their_own_share_one_answer_until_a_reload() -> None:
    hours = Hours.parse({"weekdays": ["09:00", "17:00"], "weekends_holidays": None})
    calendar = Calendar(centers={"c": hours}, points={("c", "own"): Hours.parse({"always_open": True})})
    openings = Openings(calendar)
    evening = datetime(2026, 12, 1, 18, tzinfo=SHANGHAI)             # a Tuesday, after the center closed
    shared = openings.of("c", "p1", evening)
    assert shared["open_now"] is False and shared["hours"]["weekdays"] == ["09:00", "17:00"]
    assert openings.of("c", "p2", evening) is shared and openings.of("c", "p1", evening + timedelta(minutes=5)) is shared
    assert openings.of("c", "own", evening)["open_now"] is True and openings.of("c", None, evening)["open_now"] is False

    assert openings.current(calendar)
    calendar.take(Calendar(centers={"c": Hours.parse({"weekdays": ["08:00", "20:00"], "weekends_holidays": None})}))
    assert not openings.current(calendar)                              # the map makes a fresh one then
    fresh = Openings(calendar)
    assert fresh.of("c", "p1", evening)["open_now"] is True and fresh.of("c", "own", evening)["hours"]["weekdays"] == ["08:00", "20:00"]
