"""The map: every center and active point with its live waiting count and predicted wait, an ETag
that holds while nothing changes, a CSV for the district office, and bad filters as problems."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from queue_server.config import Settings
from queue_server.record.demo_data import CENTER_POSITIONS
from tests.support import AUTH, running_app

C = "jingansi"
T = f"/api/v1/centers/{C}/tickets"


async def test_the_map_shows_live_waiting_at_points_and_keeps_its_etag(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        await client.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": f"{C}-s01"}, headers=AUTH)
        hour = (datetime.fromtimestamp(app.state.clock.now_ms() / 1000, ZoneInfo("Asia/Shanghai")).hour + 2) % 24
        later = [f"{hour:02d}:00", f"{hour:02d}:30"]      # sp2 opens only later today (or tomorrow)
        r = await client.put(f"/api/v1/centers/{C}/points/sp2/hours", json={"weekdays": later, "weekends_holidays": later},
                             headers=AUTH)
        assert r.status_code == 200, r.text
        for _ in range(2):
            r = await client.post(T, json={"matter": "hrss-001", "channel": "service_point", "service_point": "sp1"},
                                  headers=AUTH)
            assert r.status_code == 201
        r = await client.get("/api/v1/map.geojson")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
        doc = r.json()
        assert doc["type"] == "FeatureCollection"
        by_id = {f["id"]: f for f in doc["features"]}
        assert len([f for f in doc["features"] if f["properties"]["type"] == "center"]) == len(app.state.engine.catalog.centers)
        center = by_id[f"center:{C}"]["geometry"]      # centers stand where the demo data puts them (migration 062)
        assert center == {"type": "Point", "coordinates": [CENTER_POSITIONS[C][1], CENTER_POSITIONS[C][0]]}
        sp1, sp3 = by_id[f"{C}-sp1"], by_id[f"{C}-sp3"]
        assert sp1["properties"]["waiting"] == 2 and sp1["properties"]["served_now"] is True
        assert sp1["properties"]["predicted_wait_s"] > 0 and sp1["properties"]["kind_zh"] == "居委会"
        assert sp1["geometry"]["type"] == "Point" and 121 < sp1["geometry"]["coordinates"][0] < 122
        assert sp3["properties"]["waiting"] == 0 and sp3["properties"]["served_now"] is False
        assert sp1["properties"]["open_now"] is True and sp1["properties"]["next_opening_at"] is None
        sp2 = by_id[f"{C}-sp2"]["properties"]
        assert sp2["open_now"] is False and sp2["hours"]["weekdays"] == later and sp2["next_opening_at"]
        etag = r.headers["etag"]
        again = await client.get("/api/v1/map.geojson", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.headers["etag"] == etag

        r = await client.post(f"/api/v1/centers/{C}/points/sp3/status", json={"status": "suspended", "reason": "装修"},
                              headers=AUTH)
        assert r.status_code == 200
        changed = await client.get("/api/v1/map.geojson", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert f"{C}-sp3" not in {f["id"] for f in changed.json()["features"]}
        parks = (await client.get("/api/v1/map.geojson", params={"kind": "office_building", "center": C})).json()["features"]
        assert {f["properties"]["kind"] for f in parks} == {"office_building"} and all(f["properties"]["center"] == C for f in parks)

        r = await client.get("/api/v1/map.csv", params={"center": C}, headers=AUTH)
        assert r.status_code == 200 and r.text.startswith("\ufeff")
        rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert {row["code"]: row["status"] for row in rows if row["type"] == "service_point"}["sp3"] == "suspended"
        assert [row["waiting"] for row in rows if row["code"] == "sp1"] == ["2"]
        assert (await client.get("/api/v1/map.csv")).status_code == 401


async def test_bad_map_filters_are_problems(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        for params, field in [({"center": "nowhere"}, "center"), ({"kind": "mall"}, "kind")]:
            r = await client.get("/api/v1/map.geojson", params=params)
            assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in r.json()["errors"]] == [field]
