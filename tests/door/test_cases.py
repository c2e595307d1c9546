"""A door-to-door case through the API, discovery to closing: merged duplicates, every transition with
who, when and why, the SMS through the outbox, the events on the center's stream, and the steps a
case may not take (409, nothing written)."""
from __future__ import annotations

import asyncio

import asyncpg
import orjson
from redis.asyncio import Redis

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.engine.keys import Keys
from tests.door.conftest import C, MONDAY, PNG, Cases, phone
from tests.support import AUTH, running_app


async def _events(settings: Settings, case_id: int) -> list[dict]:
    r = Redis.from_url(settings.redis_url)
    try:
        entries = await r.xrange(Keys(settings.key_prefix).events(C))
    finally:
        await r.aclose()
    found = [orjson.loads(f[b"data"]) for _, f in entries if f[b"type"] == b"door.case"]
    return [e for e in found if e["case_id"] == case_id]


async def _written(settings: Settings, case_id: int) -> tuple:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return tuple(await conn.fetchrow(
            "SELECT (SELECT stage FROM door_cases WHERE id = $1), (SELECT count(*) FROM door_transitions WHERE case_id = $1),"
            " (SELECT count(*) FROM door_visits WHERE case_id = $1), (SELECT count(*) FROM sms_messages)", case_id))
    finally:
        await conn.close()


async def test_a_case_from_discovery_to_closing(settings: Settings) -> None:
    clock = FixedClock(MONDAY)
    async with running_app(settings, clock) as (app, client):
        cases = Cases(app, client, clock)
        staff = await cases.token("staff", f"{C}-s03")
        resident = phone()
        first = await cases.discover(resident, ["mi-004"], source="grid", id_number="310106194501011234")
        case_id = first["case_id"]
        assert first["merged"] is False and first["case"]["stage"] == "discovered"
        assert first["case"]["phone_masked"] == f"{resident[:3]}****{resident[-4:]}"
        assert first["case"]["id_number_masked"] == "310***********1234"
        # the same resident and matter again, from another channel, with another matter: one case
        again = await cases.discover(resident, ["mi-004", "ca-002"], 200, source="hotline")
        assert again["case_id"] == case_id and again["merged"] is True
        assert [m["matter"] for m in again["case"]["matters"]] == ["ca-002", "mi-004"]
        assert [d["source"] for d in again["case"]["discoveries"]] == ["grid", "hotline"]

        await cases.step(case_id, "review", {"decision": "approve"})
        await cases.book(case_id, f"{C}-v01")            # both matters are simple: a volunteer may go
        await cases.book(case_id, f"{C}-s03", slot="pm")  # rebooked: the first booking is freed
        r = await cases.step(case_id, "visit", cases.record(), 201, headers=staff)
        assert r.json()["new"] is True and r.json()["case"]["stage"] == "tracking"
        visit_id = r.json()["visit_id"]
        sig = await client.get(f"/api/v1/door/cases/{case_id}/visits/{visit_id}/signature", headers=AUTH)
        assert sig.status_code == 200 and sig.headers["content-type"] == "image/png" and sig.content == PNG

        for matter, state in [("mi-004", "in_review"), ("mi-004", "approved")]:
            await cases.step(case_id, f"approvals/{matter}", {"state": state})
        await cases.step(case_id, "close", {}, 409)       # ca-002 is still submitted
        await cases.step(case_id, "approvals/ca-002", {"state": "rejected", "reason": "不符合条件"})
        closed = (await cases.step(case_id, "close", {"reason": "审批均已办结"})).json()
        assert closed["stage"] == "closed" and closed["approvals_done_at"] and closed["closed_at"]

        history = closed["history"]
        assert [h["action"] for h in history] == ["discover", "merge", "approve", "schedule", "schedule", "accept",
                                                  "approval", "approval", "approval", "close"]
        assert [h["actor"] for h in history][-5:] == [f"{C}-s03", "admin", "admin", "admin", "admin"]
        assert all(h["at"] > 0 for h in history) and history[-1]["reason"] == "审批均已办结"
        # a new report of the same resident and matter now opens a new case
        assert (await cases.discover(resident, ["mi-004"]))["case_id"] != case_id

        events = await _events(settings, case_id)
        assert [e["action"] for e in events] == [h["action"] for h in history]
        assert resident not in orjson.dumps(events).decode() and "孙阿婆" not in orjson.dumps(events).decode()
        conn = await asyncpg.connect(settings.database_url)
        try:
            sms = await conn.fetch("SELECT ticket_id, kind, body FROM sms_messages WHERE ticket_id LIKE $1 ORDER BY id",
                                   f"{C}-door-{case_id}%")
            sealed = await conn.fetchval("SELECT phone_sealed FROM door_cases WHERE id = $1", case_id)
        finally:
            await conn.close()
        assert resident.encode() not in bytes(sealed)
        kinds = [m["kind"] for m in sms]
        assert kinds.count("notice") == 5 and kinds.count("prompt") == 1   # 2 bookings, 3 approval changes
        assert "居民身份证" in sms[0]["body"] and "社保卡" in sms[0]["body"]   # the materials list, ahead


async def test_a_case_takes_no_step_out_of_turn(settings: Settings) -> None:
    clock = FixedClock(MONDAY)
    async with running_app(settings, clock) as (app, client):
        cases = Cases(app, client, clock)
        case_id = (await cases.discover(phone(), ["dpf-001"]))["case_id"]
        before = await _written(settings, case_id)
        await cases.book(case_id, status=409)                          # no visit before review
        await cases.step(case_id, "visit", cases.record(), 409)        # no visit without a booking
        await cases.step(case_id, "close", {}, 409)
        await cases.step(case_id, "approvals/dpf-001", {"state": "approved"}, 409)
        await cases.step(case_id, "review", {"decision": "refuse"}, 409)   # a refusal says why
        assert await _written(settings, case_id) == before

        await cases.step(case_id, "review", {"decision": "approve"})
        await cases.step(case_id, "review", {"decision": "approve"}, 409)
        r = await cases.book(case_id, f"{C}-v01", status=422)         # a complex matter needs staff
        assert r.json()["errors"][0]["field"] == "visitor"
        await cases.book(case_id, f"{C}-s01")
        r = await cases.step(case_id, "visit", cases.record(accepted=False, reason=""), 422)
        await cases.step(case_id, "visit", cases.record(accepted=False), 201)   # not accepted: book again
        await cases.step(case_id, "visit", cases.record(), 409)
        await cases.book(case_id, f"{C}-s01", days=2)
        await cases.step(case_id, "cancel", {"reason": "居民已自行办理 came in person"})
        await cases.step(case_id, "schedule", {"visitor": f"{C}-s01", "date": "2026-12-09", "slot": "am"}, 409)
        history = (await client.get(f"/api/v1/door/cases/{case_id}", headers=AUTH)).json()["history"]
        assert [(h["from_stage"], h["to_stage"]) for h in history] == [
            (None, "discovered"), ("discovered", "approved"), ("approved", "scheduled"), ("scheduled", "approved"),
            ("approved", "scheduled"), ("scheduled", "cancelled")]
        assert history[3]["reason"] == "材料不全 documents missing"

        off_list = (await cases.discover(phone(), ["hrss-001"]))["case_id"]
        r = await cases.step(off_list, "review", {"decision": "approve"}, 409)
        assert r.json()["code"] == "not_eligible"
        r = await cases.step(off_list, "review", {"decision": "refuse", "reason": "该事项不在上门服务清单"})
        assert r.json()["stage"] == "refused"
        conn = await asyncpg.connect(settings.database_url)
        try:
            body = await conn.fetchval("SELECT body FROM sms_messages WHERE kind = 'notice' AND ticket_id LIKE $1",
                                       f"{C}-door-{off_list}-%")
        finally:
            await conn.close()
        assert "该事项不在上门服务清单" in body


async def test_bad_input_is_a_problem_and_writes_nothing(settings: Settings) -> None:
    clock = FixedClock(MONDAY)
    async with running_app(settings, clock) as (app, client):
        cases = Cases(app, client, clock)
        bad = [{"matters": ["nope"]}, {"phone": "12345"}, {"id_number": "31010619450101123"}, {"reason": "bored"},
               {"source": "rumour"}, {"matters": []}]
        for extra in bad:
            body = {"resident_name": "孙阿婆", "phone": phone(), "address": "静安区", "matters": ["mi-004"],
                    "reason": "elderly", "source": "committee", **extra}
            r = await client.post(f"/api/v1/centers/{C}/door/cases", json=body, headers=AUTH)
            assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", (extra, r.text)
        case_id = await cases.to_tracking()
        for day, sig in enumerate(["data:image/gif;base64,R0lGOD", "data:image/png;base64,/9j/4AAQ", "javascript:alert(1)",
                    "data:image/png;base64," + "A" * 150_000], 1):
            other = (await cases.discover(phone(), ["mi-004"]))["case_id"]
            await cases.step(other, "review", {"decision": "approve"})
            await cases.book(other, f"{C}-c01", days=day)
            before = await _written(settings, other)
            r = await client.post(f"/api/v1/door/cases/{other}/visit", json=cases.record(signature=sig), headers=AUTH)
            assert r.status_code == 422, r.text
            assert await _written(settings, other) == before
        huge = await client.post(f"/api/v1/door/cases/{case_id}/visit", content=b"{" + b" " * 200_000 + b"}",
                                 headers={**AUTH, "content-type": "application/json"})
        assert huge.status_code == 413
        assert (await client.get("/api/v1/door/cases/999999999", headers=AUTH)).status_code == 404
        assert (await client.get("/api/v1/door/cases/abc", headers=AUTH)).status_code == 404
        other_center = await cases.token("staff", None, "caojiadu")
        assert (await client.get(f"/api/v1/door/cases/{case_id}", headers=other_center)).status_code == 403


async def test_two_schedulers_booking_one_visitor_for_one_slot_one_wins(settings: Settings) -> None:
    clock = FixedClock(MONDAY)
    async with running_app(settings, clock) as (app, client):
        cases = Cases(app, client, clock)
        for _ in range(3):
            ids = []
            for _ in range(4):
                case_id = (await cases.discover(phone(), ["dpf-003"]))["case_id"]
                await cases.step(case_id, "review", {"decision": "approve"})
                ids.append(case_id)
            body = {"visitor": f"{C}-s02", "date": "2026-12-03", "slot": "pm"}
            answers = await asyncio.gather(*(client.post(f"/api/v1/door/cases/{i}/schedule", json=body, headers=AUTH)
                                             for i in ids))
            assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
            conn = await asyncpg.connect(settings.database_url)
            try:
                booked = await conn.fetch("SELECT case_id FROM door_visits WHERE visitor = $1 AND visit_date = '2026-12-03'"
                                          " AND slot = 'pm' AND cancelled_at IS NULL", f"{C}-s02")
                stages = await conn.fetch("SELECT id, stage FROM door_cases WHERE id = ANY($1)", ids)
            finally:
                await conn.close()
            assert len(booked) == 1
            winner = next(i for i, a in zip(ids, answers) if a.status_code == 200)
            assert {r["id"]: r["stage"] for r in stages} == {i: "scheduled" if i == winner else "approved" for i in ids}
            cases_left = [i for i in ids if i != winner]
            for i in cases_left:   # free the visitor for the next round
                await cases.step(i, "cancel", {"reason": "test"})
            await cases.step(winner, "cancel", {"reason": "test"})


async def test_the_same_report_twice_at_once_makes_one_case(settings: Settings) -> None:
    clock = FixedClock(MONDAY)
    async with running_app(settings, clock) as (app, client):
        resident = phone()
        body = {"resident_name": "孙阿婆", "phone": resident, "address": "静安区", "matters": ["ca-002"],
                "reason": "elderly", "source": "hotline"}
        answers = await asyncio.gather(*(client.post(f"/api/v1/centers/{C}/door/cases", json=body, headers=AUTH)
                                         for _ in range(6)))
        assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
        assert len({a.json()["case_id"] for a in answers}) == 1
