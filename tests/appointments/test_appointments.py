"""Appointments on real PostgreSQL and Redis with an injected clock: slots within the calendar's
hours, capacity under 100 concurrent bookings, one place per number and slot, cancel, check-in by
code into the appointment ticket the call policy serves before walk-ins (once, however many kiosks
race), and the release of a booking not checked in within the grace period (supervised sweep)."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from appointments import store
from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.record.people import create_token
from queue_server.record.personal import PersonalData
from tests.support import AUTH, running_app

C = "jingansi"
MORNING = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)      # Monday 09:00 in Shanghai
SLOT_AT = MORNING + timedelta(hours=2)                             # 11:00
REAL_HOURS = {"weekdays": ["08:30", "16:30"], "weekends_holidays": ["08:30", "11:30"]}


def phone(n: int) -> str:
    return f"139{n:08d}"


async def real_hours(settings: Settings) -> None:
    conn = await asyncpg.connect(settings.database_url)
    try:   # the tests' database opens all hours; slots are checked against the real ones
        await conn.execute("UPDATE centers SET hours = $1::jsonb", json.dumps(REAL_HOURS))
    finally:
        await conn.close()


async def new_slot(client, capacity: int, at: datetime = SLOT_AT, headers: dict[str, str] = AUTH):
    return await client.post(f"/api/v1/centers/{C}/appointment-slots", headers=headers,
                             json={"queue": "appointment", "starts_at": at.isoformat(),
                                   "ends_at": (at + timedelta(minutes=30)).isoformat(), "capacity": capacity})


async def booked(app, slot_id: int, n: int, matter: str = "hrss-001") -> dict:
    """A booking as the API makes it once the number is verified (the code's own tests: tests/appointments/test_booking_api.py)."""
    p: PersonalData = app.state.personal
    return await store.book(app.state.pool, slot_id, matter, p.seal(phone(n)), p.lookup(phone(n)),
                            datetime.fromtimestamp(app.state.clock.now_ms() / 1000, timezone.utc))


async def test_slots_are_opened_by_managers_within_the_calendars_hours(settings: Settings) -> None:
    await real_hours(settings)
    async with running_app(settings, FixedClock(MORNING)) as (app, client):
        r = await new_slot(client, 10)
        assert r.status_code == 201, r.text
        assert r.json()["left"] == 10 and r.json()["starts_at"].startswith("2026-11-30T11:00:00+08:00")
        assert (await new_slot(client, 10)).status_code == 409                                   # the same start again
        assert (await new_slot(client, 10, MORNING + timedelta(hours=8))).status_code == 422     # 17:00: closed
        assert (await new_slot(client, 10, MORNING + timedelta(hours=7, minutes=15))).status_code == 422  # ends 16:45
        assert (await new_slot(client, 10, MORNING - timedelta(hours=1))).status_code == 422     # in the past
        other = await create_token(app.state.pool, "manager", "caojiadu")
        assert (await new_slot(client, 5, SLOT_AT + timedelta(hours=1), {"Authorization": f"Bearer {other}"})).status_code == 403
        listed = (await client.get(f"/api/v1/centers/{C}/appointment-slots", params={"date": "2026-11-30"})).json()
        assert [(s["capacity"], s["left"]) for s in listed["slots"]] == [(10, 10)]
        slot_id = listed["slots"][0]["id"]
        for n in range(3):
            await booked(app, slot_id, n)
        assert (await client.patch(f"/api/v1/appointment-slots/{slot_id}", headers=AUTH, json={"capacity": 2})).status_code == 409
        r = await client.patch(f"/api/v1/appointment-slots/{slot_id}", headers=AUTH, json={"capacity": 4})
        assert r.status_code == 200 and r.json()["left"] == 1


async def test_capacity_holds_under_100_concurrent_bookings(settings: Settings) -> None:
    async with running_app(settings, FixedClock(MORNING)) as (app, client):
        slot_id = (await new_slot(client, 10)).json()["id"]
        results = await asyncio.gather(*(booked(app, slot_id, n) for n in range(100)), return_exceptions=True)
        won = [r for r in results if isinstance(r, dict)]
        refused = [r for r in results if isinstance(r, store.Refused)]
        assert len(won) == 10 and len(refused) == 90 and {r.code for r in refused} == {"slot_full"}
        assert await app.state.pool.fetchval("SELECT count(*) FROM appointments WHERE slot_id = $1", slot_id) == 10
        assert (await store.slot(app.state.pool, slot_id))["left"] == 0


async def test_one_place_per_number_and_slot_even_racing(settings: Settings) -> None:
    async with running_app(settings, FixedClock(MORNING)) as (app, client):
        slot_id = (await new_slot(client, 10)).json()["id"]
        results = await asyncio.gather(*(booked(app, slot_id, 7) for _ in range(8)), return_exceptions=True)
        assert len([r for r in results if isinstance(r, dict)]) == 1
        assert {r.code for r in results if isinstance(r, store.Refused)} == {"already_booked"}
        first = next(r for r in results if isinstance(r, dict))
        assert first["phone"] != phone(7).encode() and app.state.personal.open(first["phone"]) == phone(7)


async def test_cancel_frees_the_place(settings: Settings) -> None:
    async with running_app(settings, FixedClock(MORNING)) as (app, client):
        slot_id = (await new_slot(client, 1)).json()["id"]
        b = await booked(app, slot_id, 1)
        with pytest.raises(store.Refused):
            await booked(app, slot_id, 2)
        seen = (await client.get(f"/api/v1/appointments/{b['code'].lower()}")).json()
        assert seen["status"] == "booked" and seen["phone_masked"] == "139****0001" and "phone" not in seen
        r = await client.post(f"/api/v1/appointments/{b['code']}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert (await client.post(f"/api/v1/appointments/{b['code']}/cancel")).status_code == 409
        assert (await booked(app, slot_id, 2))["status"] == "booked"
        assert (await client.get("/api/v1/appointments/NOPE")).status_code == 404
        assert (await client.post("/api/v1/appointments/ABCDEFGH/cancel")).status_code == 404


async def test_check_in_turns_the_booking_into_its_appointment_ticket_once(settings: Settings) -> None:
    clock = FixedClock(MORNING)
    async with running_app(settings, clock) as (app, client):
        slot_id = (await new_slot(client, 5)).json()["id"]
        b = await booked(app, slot_id, 3)
        kiosk = {"Authorization": f"Bearer {await create_token(app.state.pool, 'device', C, device_kind='kiosk')}"}
        elsewhere = {"Authorization": f"Bearer {await create_token(app.state.pool, 'device', 'caojiadu', device_kind='kiosk')}"}
        early = await client.post("/api/v1/appointments/check-in", headers=kiosk, json={"code": b["code"]})
        assert early.status_code == 409 and early.json()["code"] == "too_early"
        clock.set(SLOT_AT - timedelta(minutes=10))
        assert (await client.post("/api/v1/appointments/check-in", headers=elsewhere, json={"code": b["code"]})).status_code == 403
        spaced = f"{b['code'][:4].lower()}-{b['code'][4:]}"          # typed with a dash, in lower case
        answers = await asyncio.gather(*(client.post("/api/v1/appointments/check-in", headers=kiosk, json={"code": spaced})
                                         for _ in range(5)))
        assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201]
        tickets = {a.json()["ticket"]["id"] for a in answers}
        assert len(tickets) == 1
        t = answers[0].json()["ticket"]
        assert t["priority"] == "appointment" and t["class"] == "a" and t["queue"] == "appointment"
        assert answers[0].json()["appointment"]["status"] == "checked_in"

        # the slot begins: the call policy takes the appointment before an earlier walk-in
        walk_in = (await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})).json()
        clock.set(SLOT_AT + timedelta(minutes=1))
        await client.post(f"/api/v1/centers/{C}/windows/w1/open", headers=AUTH, json={"staff_id": f"{C}-s01"})
        windows = app.state.engine.catalog.centers[C].windows
        serving = next(w for w in windows.values() if "appointment" in w.queues)
        await client.post(f"/api/v1/centers/{C}/windows/{serving.code}/open", headers=AUTH, json={"staff_id": f"{C}-s02"})
        called = (await client.post(f"/api/v1/centers/{C}/windows/{serving.code}/call-next", headers=AUTH)).json()["ticket"]
        assert called["id"] in tickets and called["id"] != walk_in["id"]


async def test_a_booking_not_checked_in_within_the_grace_period_is_released(settings: Settings,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_APPOINTMENT_SWEEP_S", "0.05")
    monkeypatch.setenv("QUEUE_APPOINTMENT_GRACE_S", "600")
    clock = FixedClock(MORNING)
    async with running_app(settings, clock) as (app, client):
        slot_id = (await new_slot(client, 2)).json()["id"]
        late, on_time = await booked(app, slot_id, 1), await booked(app, slot_id, 2)
        clock.set(SLOT_AT + timedelta(minutes=5))
        assert (await client.post("/api/v1/appointments/check-in", headers=AUTH, json={"code": on_time["code"]})).status_code == 201
        await asyncio.sleep(0.3)
        assert (await client.get(f"/api/v1/appointments/{late['code']}")).json()["status"] == "booked"   # within the grace
        clock.set(SLOT_AT + timedelta(minutes=10))
        for _ in range(100):
            if (await client.get(f"/api/v1/appointments/{late['code']}")).json()["status"] == "released":
                break
            await asyncio.sleep(0.05)
        assert (await client.get(f"/api/v1/appointments/{late['code']}")).json()["status"] == "released"
        assert (await client.get(f"/api/v1/appointments/{on_time['code']}")).json()["status"] == "checked_in"
        r = await client.post("/api/v1/appointments/check-in", headers=AUTH, json={"code": late["code"]})
        assert r.status_code == 409
        assert (await store.slot(app.state.pool, slot_id))["taken"] == 1
