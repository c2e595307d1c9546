"""Booking through the API with the residents' SMS code (outbox → real twilio library → stand-in):
the code proves the number and works once, a wrong one uses an attempt, another number's code proves
nothing; two residents racing for the last place: one wins; the phone is kept sealed and shown masked."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from evaluation.sms.standin import TwilioStandin
from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.evaluation.conftest import C, MONDAY, PHONE, desk_for, eval_settings
from tests.residents.conftest import Resident
from tests.support import AUTH

OTHER = "13911112222"


async def new_slot(client, capacity: int) -> int:
    at = MONDAY + timedelta(hours=2)
    r = await client.post(f"/api/v1/centers/{C}/appointment-slots", headers=AUTH, json={
        "queue": "appointment", "starts_at": at.isoformat(), "ends_at": (at + timedelta(minutes=30)).isoformat(),
        "capacity": capacity})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_a_booking_needs_the_numbers_code_once(settings: Settings, clock: FixedClock, standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        slot = await new_slot(desk.client, 5)
        me, other = Resident(desk, standin, PHONE), Resident(desk, standin, OTHER, address="203.0.113.8")

        def book(code: str, phone: str = PHONE, matter: str = "hrss-001"):
            return desk.client.post("/api/v1/appointments", json={"slot": slot, "matter": matter, "phone": phone, "code": code})

        code = await me.code()
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        r = await book(wrong)
        assert r.status_code == 422 and r.json()["code"] == "code_wrong" and r.json()["attempts_left"] == 4
        r = await book(code, phone=OTHER)                     # my code proves nothing for another number
        assert r.status_code == 422 and r.json()["code"] == "code_invalid"
        r = await book(code)
        assert r.status_code == 201, r.text
        b = r.json()
        assert b["status"] == "booked" and b["phone_masked"] == "138****5678" and b["starts_at"].endswith("+08:00")
        assert (await book(code)).json()["code"] == "code_invalid"                        # used up
        row = await desk.pool.fetchrow("SELECT phone, phone_lookup FROM appointments WHERE code = $1", b["code"])
        assert PHONE.encode() not in row["phone"] and desk.app.state.personal.open(row["phone"]) == PHONE

        clock.advance(61)
        r = await book(await me.code())
        assert r.status_code == 409 and r.json()["code"] == "already_booked"
        r = await book(await other.code(), phone=OTHER, matter="no-such")
        assert r.status_code == 422
        qr = await desk.client.get(b["qr_url"])
        assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")


async def test_two_residents_racing_for_the_last_place_one_wins(settings: Settings, clock: FixedClock,
                                                               standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        slot = await new_slot(desk.client, 1)
        a, b = Resident(desk, standin, PHONE), Resident(desk, standin, OTHER, address="203.0.113.8")
        codes = [await a.code(), await b.code()]
        answers = await asyncio.gather(*(desk.client.post("/api/v1/appointments", json={
            "slot": slot, "matter": "hrss-001", "phone": phone, "code": code}) for phone, code in zip((PHONE, OTHER), codes)))
        assert sorted(r.status_code for r in answers) == [201, 409]
        assert next(r for r in answers if r.status_code == 409).json()["code"] == "slot_full"
        listed = (await desk.client.get(f"/api/v1/centers/{C}/appointment-slots", params={"date": "2026-11-30"})).json()
        assert [(s["taken"], s["left"]) for s in listed["slots"]] == [(1, 0)]
