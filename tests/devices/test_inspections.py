"""Scheduled device inspections on real PostgreSQL and Redis: due and overdue follow the center's
schedule on an injected clock, two inspectors racing for the same due inspection record it once
(one 201, one 409), a failed item is announced on the center's stream and counted on the dashboard,
and bad input answers problem+json and writes nothing."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.domain.devices import CHECKLIST
from tests.devices.test_devices import eventually, register
from tests.support import AUTH, running_app

C = "jingansi"
DAY_S = 86_400


async def token(client: httpx.AsyncClient, role: str, center: str = C) -> dict[str, str]:
    r = await client.post("/api/v1/tokens", json={"role": role, "center": center}, headers=AUTH)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def answers(kind: str, failed: tuple[str, ...] = ()) -> dict[str, Any]:
    items = [{"item": code, "passed": code not in failed, "note": "卡纸 jammed" if code in failed else ""}
             for code, _, _ in CHECKLIST[kind]]
    return {"items": items, "result": "fail" if failed else "pass"}


async def status(client: httpx.AsyncClient, headers: dict[str, str], device: str) -> str:
    r = await client.get(f"/api/v1/centers/{C}/inspections/due", headers=headers)
    assert r.status_code == 200, r.text
    return next((d["status"] for d in r.json()["devices"] if d["device"] == device), "ok")


async def test_due_and_overdue_follow_the_schedule(settings: Settings) -> None:
    clock = FixedClock(datetime.now(timezone.utc))
    async with running_app(settings, clock) as (_, client):
        manager, staff = await token(client, "manager"), await token(client, "staff")
        kiosk = (await register(client, kind="kiosk", label="kiosk 1"))["id"]
        assert await status(client, staff, kiosk) == "due"             # never inspected: due at once
        r = await client.post(f"/api/v1/devices/{kiosk}/inspections", json=answers("kiosk"), headers=staff)
        assert r.status_code == 201, r.text
        assert await status(client, staff, kiosk) == "ok"
        again = await client.post(f"/api/v1/devices/{kiosk}/inspections", json=answers("kiosk"), headers=staff)
        assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
        clock.advance(22 * DAY_S)
        assert await status(client, staff, kiosk) == "ok"
        clock.advance(2 * DAY_S)                                        # a week before the 30 days end
        assert await status(client, staff, kiosk) == "due"
        clock.advance(7 * DAY_S)
        assert await status(client, staff, kiosk) == "overdue"
        failed = answers("kiosk", ("prints_cuts",))
        assert (await client.post(f"/api/v1/devices/{kiosk}/inspections", json=failed, headers=staff)).status_code == 201
        assert await status(client, staff, kiosk) == "due"             # failed: checked again once repaired
        assert (await client.post(f"/api/v1/devices/{kiosk}/inspections", json=answers("kiosk"),
                                  headers=manager)).status_code == 201
        r = await client.put(f"/api/v1/centers/{C}/inspections/schedule/kiosk", json={"interval_days": 60},
                             headers=manager)
        assert r.status_code == 200 and r.json()["interval_days"] == 60
        schedule = (await client.get(f"/api/v1/centers/{C}/inspections/schedule", headers=staff)).json()
        assert {k["kind"]: k["interval_days"] for k in schedule["kinds"]}["kiosk"] == 60
        clock.advance(52 * DAY_S)
        assert await status(client, staff, kiosk) == "ok"
        clock.advance(1 * DAY_S)
        assert await status(client, staff, kiosk) == "due"
        history = (await client.get(f"/api/v1/devices/{kiosk}/inspections", headers=staff)).json()["inspections"]
        assert [i["passed"] for i in history] == [True, False, True]
        assert history[1]["items"][0] == {"item": "prints_cuts", "passed": False, "note": "卡纸 jammed"}


async def test_two_inspectors_racing_record_each_due_inspection_once(settings: Settings) -> None:
    async with running_app(settings) as (a, client_a), running_app(settings) as (_, client_b):
        one, two = await token(client_a, "staff"), await token(client_a, "manager")
        devices = [(await register(client_a, kind="hall_display", label=f"hall {i}"))["id"] for i in range(6)]
        due = {d["device"]: d["follows"] for d in
               (await client_a.get(f"/api/v1/centers/{C}/inspections/due", headers=one)).json()["devices"]}
        for device in devices:
            url = f"/api/v1/devices/{device}/inspections"
            # as the inspectors' pages send them: the follows of the due list each worked from
            got = await asyncio.gather(
                client_a.post(url, json={**answers("hall_display"), "follows": due[device]}, headers=one),
                client_b.post(url, json={**answers("hall_display", ("audio",)), "follows": due[device]}, headers=two))
            assert sorted(r.status_code for r in got) == [201, 409], [r.text for r in got]
            loser = next(r for r in got if r.status_code == 409)
            assert loser.headers["content-type"].startswith("application/problem+json")
        pool: asyncpg.Pool = a.state.pool
        counts = await pool.fetch("SELECT device, count(*) AS n FROM device_inspections WHERE device = ANY($1)"
                                  " GROUP BY device", devices)
        assert sorted(r["n"] for r in counts) == [1] * len(devices)


async def test_a_failed_item_is_announced_and_counted_on_the_dashboard(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        staff = await token(client, "staff")
        printer = (await register(client, kind="printer", label="hall printer"))["id"]
        before = app.state.ops.figures.centers[C].inspections_failed
        r = await client.post(f"/api/v1/devices/{printer}/inspections", json=answers("printer", ("paper",)),
                              headers=staff)
        assert r.status_code == 201, r.text
        entries = await app.state.redis.xrange(app.state.keys.events(C))
        announced = [orjson.loads(f[b"data"]) for _, f in entries if f[b"type"] == b"device.inspection_failed"]
        mine = [e for e in announced if e["device"]["id"] == printer]
        assert len(mine) == 1 and [i["item"] for i in mine[0]["inspection"]["failed"]] == ["paper"]

        async def counted() -> bool:
            return app.state.ops.figures.centers[C].inspections_failed == before + 1
        await eventually(counted, "the dashboard counts the failed inspection")
        # a passing inspection announces nothing
        kiosk = (await register(client, kind="kiosk"))["id"]
        assert (await client.post(f"/api/v1/devices/{kiosk}/inspections", json=answers("kiosk"),
                                  headers=staff)).status_code == 201
        entries = await app.state.redis.xrange(app.state.keys.events(C))
        assert not [f for _, f in entries if f[b"type"] == b"device.inspection_failed" and kiosk.encode() in f[b"data"]]


def _body(kind: str, change: str) -> dict[str, Any]:
    body = answers(kind)
    if change == "missing":
        body["items"] = body["items"][1:]
    elif change == "unknown":
        body["items"].append({"item": "coffee", "passed": True})
    elif change == "twice":
        body["items"].append(body["items"][0])
    elif change == "pass_with_failure":
        body["items"][0]["passed"] = False
    elif change == "bad_result":
        body["result"] = "maybe"
    elif change == "extra":
        body["by"] = "someone"
    elif change == "long_note":
        body["note"] = "x" * 201
    elif change == "negative_follows":
        body["follows"] = -1
    elif change == "follows_as_text":
        body["follows"] = "latest"
    return body


@pytest.mark.parametrize("change", ["missing", "unknown", "twice", "pass_with_failure", "bad_result", "extra",
                                    "long_note", "negative_follows", "follows_as_text"])
async def test_bad_inspection_answers_problem_and_writes_nothing(settings: Settings, change: str) -> None:
    async with running_app(settings) as (app, client):
        staff = await token(client, "staff")
        kiosk = (await register(client, kind="kiosk"))["id"]
        r = await client.post(f"/api/v1/devices/{kiosk}/inspections", json=_body("kiosk", change), headers=staff)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert await app.state.pool.fetchval("SELECT count(*) FROM device_inspections WHERE device = $1", kiosk) == 0


async def test_who_may_inspect_and_schedule(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        staff, elsewhere = await token(client, "staff"), await token(client, "staff", "caojiadu")
        kiosk = (await register(client, kind="kiosk"))["id"]
        url = f"/api/v1/devices/{kiosk}/inspections"
        assert (await client.post(url, json=answers("kiosk"), headers=elsewhere)).status_code == 403
        assert (await client.get(url, headers=elsewhere)).status_code == 403
        assert (await client.post("/api/v1/devices/dv_none/inspections", json=answers("kiosk"),
                                  headers=AUTH)).status_code == 404
        schedule = f"/api/v1/centers/{C}/inspections/schedule"
        assert (await client.put(f"{schedule}/kiosk", json={"interval_days": 7}, headers=staff)).status_code == 403
        assert (await client.put(f"{schedule}/toaster", json={"interval_days": 7}, headers=AUTH)).status_code == 404
        for bad in ({"interval_days": 0}, {"interval_days": 400}, {}, {"interval_days": "often"}):
            r = await client.put(f"{schedule}/kiosk", json=bad, headers=AUTH)
            assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert await app.state.pool.fetchval("SELECT count(*) FROM inspection_schedules") == 0
        assert await app.state.pool.fetchval("SELECT count(*) FROM device_inspections") == 0


async def test_an_inspection_landing_after_another_inspectors_failed_one_is_refused(settings: Settings) -> None:
    """The race's other order, made certain: the failed inspection commits first and leaves the device
    due again, so only the ``follows`` the second inspector worked from tells its answers apart from
    a new inspection after the repair."""
    async with running_app(settings) as (app, client):
        one, two = await token(client, "staff"), await token(client, "manager")
        device = (await register(client, kind="hall_display", label="hall"))["id"]
        url = f"/api/v1/devices/{device}/inspections"
        [seen] = [d["follows"] for d in (await client.get(f"/api/v1/centers/{C}/inspections/due", headers=one)).json()
                  ["devices"] if d["device"] == device]
        first = await client.post(url, json={**answers("hall_display", ("audio",)), "follows": seen}, headers=two)
        assert first.status_code == 201, first.text
        late = await client.post(url, json={**answers("hall_display"), "follows": seen}, headers=one)
        assert late.status_code == 409 and late.headers["content-type"].startswith("application/problem+json")
        assert "another inspector" in late.json()["detail"]
        repaired = await client.post(url, json={**answers("hall_display"), "follows": first.json()["id"]}, headers=one)
        assert repaired.status_code == 201, repaired.text     # after the repair, from a fresh list: recorded
        pool: asyncpg.Pool = app.state.pool
        assert await pool.fetchval("SELECT count(*) FROM device_inspections WHERE device = $1", device) == 2
