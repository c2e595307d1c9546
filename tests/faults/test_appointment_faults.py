"""Appointment check-in when a backing service is away (docs/appointments.md), on services the test
kills: with Redis away the check-in is refused (503) and the booking stays booked with no ticket; with
PostgreSQL away it is refused (503) before any ticket is issued; once back, the same check-in makes
exactly one appointment ticket, and a repeat gives that ticket again."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from appointments import store
from tests.faults.conftest import Stage
from tests.support import AUTH, running_app

C = "jingansi"
PHONE = "13912345678"


async def booked(app, client) -> dict:  # type: ignore[no-untyped-def]
    now = datetime.fromtimestamp(app.state.clock.now_ms() / 1000, timezone.utc).replace(microsecond=0)
    at = now + timedelta(minutes=10)
    r = await client.post(f"/api/v1/centers/{C}/appointment-slots", headers=AUTH, json={
        "queue": "appointment", "starts_at": at.isoformat(), "ends_at": (at + timedelta(minutes=30)).isoformat(), "capacity": 2})
    assert r.status_code == 201, r.text
    p = app.state.personal
    return await store.book(app.state.pool, r.json()["id"], "hrss-001", p.seal(PHONE), p.lookup(PHONE), now)


async def check_in_when_back(client, code: str):  # type: ignore[no-untyped-def]
    for _ in range(100):
        r = await client.post("/api/v1/appointments/check-in", headers=AUTH, json={"code": code})
        if r.status_code != 503:
            return r
        await asyncio.sleep(0.2)
    raise AssertionError("still 503")


async def appointment_tickets(app) -> int:  # type: ignore[no-untyped-def]
    keys = app.state.keys
    return await app.state.redis.zcard(keys.waiting(C, "appointment", "a"))


async def test_a_check_in_while_redis_is_away_leaves_the_booking_booked_then_issues_once(stage: Stage) -> None:
    async with running_app(stage.settings) as (app, client):
        b = await booked(app, client)
        await asyncio.to_thread(stage.redis.kill)
        r = await client.post("/api/v1/appointments/check-in", headers=AUTH, json={"code": b["code"]})
        assert r.status_code == 503 and r.headers.get("retry-after"), r.text
        assert (await store.find(app.state.pool, b["code"]))["status"] == "booked"
        await asyncio.to_thread(stage.redis.restart)
        r = await check_in_when_back(client, b["code"])
        assert r.status_code == 201, r.text
        again = await client.post("/api/v1/appointments/check-in", headers=AUTH, json={"code": b["code"]})
        assert again.status_code == 200 and again.json()["ticket"]["id"] == r.json()["ticket"]["id"]
        assert await appointment_tickets(app) == 1


async def test_a_check_in_while_postgresql_is_away_issues_nothing_then_once(stage: Stage) -> None:
    async with running_app(stage.settings) as (app, client):
        b = await booked(app, client)
        await asyncio.to_thread(stage.postgres.stop)
        try:
            r = await client.post("/api/v1/appointments/check-in", headers=AUTH, json={"code": b["code"]})
            assert r.status_code == 503 and r.headers.get("retry-after"), r.text
            assert await appointment_tickets(app) == 0
        finally:
            await asyncio.to_thread(stage.postgres.restart)
        r = await check_in_when_back(client, b["code"])
        assert r.status_code == 201, r.text
        assert (await store.find(app.state.pool, b["code"]))["status"] == "checked_in"
        assert await appointment_tickets(app) == 1
