"""GET /api/v1/recommend on real Redis and PostgreSQL with an injected clock: the ranking agrees with
an independent computation from the predicted waits (each the estimate a ticket issued there right
after is given) and the walk (another distance formula), only centers open now, a matter that is not
whole-city gives the nearest center alone, bad input is 422 and a flood 429."""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import asyncpg
import pytest

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.record.demo_data import CENTER_POSITIONS
from tests.support import AUTH, running_app

MONDAY_10 = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)     # 10:00 in Shanghai
SATURDAY_14 = datetime(2026, 12, 5, 6, 0, tzinfo=timezone.utc)    # 14:00 in Shanghai: weekend hours end 11:30
MATTER = "hrss-001"                                               # whole-city, comprehensive line (A)
HOME = (31.2300, 121.4500)


def walk_s(lat: float, lng: float, speed: float) -> float:
    """Spherical law of cosines: not the server's haversine."""
    a, b = (math.radians(lat), math.radians(lng)), (math.radians(HOME[0]), math.radians(HOME[1]))
    cos = math.sin(a[0]) * math.sin(b[0]) + math.cos(a[0]) * math.cos(b[0]) * math.cos(a[1] - b[1])
    return 6_371_008.8 * math.acos(min(1.0, cos)) / speed


async def load(client, center: str, tickets: list[str], windows: list[str]) -> None:
    for n, w in enumerate(windows, start=1):
        r = await client.post(f"/api/v1/centers/{center}/windows/{w}/open", headers=AUTH, json={"staff_id": f"{center}-s{n:02d}"})
        assert r.status_code == 200, r.text
    for m in tickets:
        assert (await client.post(f"/api/v1/centers/{center}/tickets", headers=AUTH, json={"matter": m})).status_code == 201


async def test_the_ranking_matches_an_independent_computation(settings: Settings) -> None:
    async with running_app(settings, FixedClock(MONDAY_10)) as (app, client):
        await load(client, "jingansi", [MATTER] * 8, ["w1"])
        await load(client, "nanjingxilu", [MATTER, "hrss-002"] * 2, ["w1", "w2"])
        await load(client, "caojiadu", [], ["w1"])
        await load(client, "jiangninglu", [MATTER] * 3 + ["mi-006"] * 4, ["w1"])
        r = await client.get("/api/v1/recommend", params={"matter": MATTER, "lat": HOME[0], "lng": HOME[1]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["whole_city"] is True and body["closed"] == []
        got = body["centers"]
        assert {c["center"] for c in got} == set(CENTER_POSITIONS)
        weights = body["weights"]

        told = {}
        for c in got:   # the predicted wait is what a walk-in issued now is told there
            t = (await client.post(f"/api/v1/centers/{c['center']}/tickets", headers=AUTH, json={"matter": MATTER})).json()
            told[c["center"]] = t["estimated_wait_s"]
        assert {c["center"]: c["predicted_wait_s"] for c in got} == told
        assert told["jingansi"] > told["nanjingxilu"] > 0 and told["caojiadu"] == 0

        score = {code: weights["wait"] * told[code] + weights["walk"] * walk_s(*CENTER_POSITIONS[code], weights["walk_speed_m_s"])
                 for code in told}
        expected = sorted(score, key=lambda code: score[code])
        assert [c["center"] for c in got] == expected
        for c in got:
            assert c["score_s"] == pytest.approx(score[c["center"]], abs=1.5)
            assert (c["lat"], c["lng"]) == CENTER_POSITIONS[c["center"]]


async def test_closed_centers_are_not_recommended_and_a_local_matter_goes_to_the_nearest(settings: Settings) -> None:
    conn = await asyncpg.connect(settings.database_url)
    try:   # the real hours (the tests' database opens all hours), caojiadu shut on weekdays
        await conn.execute("UPDATE centers SET hours = $1::jsonb",
                           json.dumps({"weekdays": ["08:30", "16:30"], "weekends_holidays": ["08:30", "11:30"]}))
        await conn.execute("UPDATE centers SET hours = $1::jsonb WHERE code = 'caojiadu'",
                           json.dumps({"weekdays": None, "weekends_holidays": ["08:30", "11:30"]}))
    finally:
        await conn.close()
    async with running_app(settings, FixedClock(SATURDAY_14)) as (app, client):
        body = (await client.get("/api/v1/recommend", params={"matter": MATTER, "lat": HOME[0], "lng": HOME[1]})).json()
        assert body["centers"] == [] and len(body["closed"]) == len(CENTER_POSITIONS)
        assert all(c["next_opening_at"] for c in body["closed"])
    async with running_app(settings, FixedClock(MONDAY_10)) as (app, client):
        body = (await client.get("/api/v1/recommend", params={"matter": MATTER, "lat": HOME[0], "lng": HOME[1]})).json()
        assert [c["center"] for c in body["closed"]] == ["caojiadu"]
        assert "caojiadu" not in {c["center"] for c in body["centers"]} and len(body["centers"]) == len(CENTER_POSITIONS) - 1
        local = next(m for m in app.state.engine.catalog.matters.values() if not m.whole_city)
        body = (await client.get("/api/v1/recommend", params={"matter": local.code, "lat": HOME[0], "lng": HOME[1]})).json()
        nearest = min(CENTER_POSITIONS, key=lambda code: walk_s(*CENTER_POSITIONS[code], 1.0))
        assert body["whole_city"] is False and [c["center"] for c in body["centers"]] == [nearest]


@pytest.mark.parametrize("params", [
    {"lat": "31.2", "lng": "121.4"}, {"matter": "hrss-001", "lat": "91", "lng": "121.4"},
    {"matter": "hrss-001", "lat": "31.2"}, {"matter": "no-such", "lat": "31.2", "lng": "121.4"},
    {"matter": "hrss-001", "lat": "nan", "lng": "121.4"}, {"matter": "x" * 200, "lat": "1", "lng": "1"},
])
async def test_bad_queries_are_422(settings: Settings, params: dict[str, str]) -> None:
    async with running_app(settings, FixedClock(MONDAY_10)) as (app, client):
        r = await client.get("/api/v1/recommend", params=params)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text


async def test_a_flood_from_one_address_is_limited(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_RECOMMEND_PER_MINUTE", "6")
    async with running_app(settings, FixedClock(MONDAY_10)) as (app, client):
        codes = [(await client.get("/api/v1/recommend", params={"matter": MATTER, "lat": "31.23", "lng": "121.45"})).status_code
                 for _ in range(8)]
        assert codes[0] == 200 and codes[-1] == 429
