"""Tablet ratings: one per ticket, only by the tablet of the window that served it, only within
the configured minutes; staff and manager tokens never rate; nothing half-written when refused."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import orjson
import pytest

from evaluation import reviews
from evaluation.config import EvalConfig
from evaluation.reviews import NewReview
from evaluation.served import RecentlyFinished, find
from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.evaluation.conftest import C, Desk, desk_for, eval_settings, eventually
from tests.support import AUTH


async def count(desk, table: str = "reviews") -> int:  # type: ignore[no-untyped-def]
    return await desk.pool.fetchval(f"SELECT count(*) FROM {table}")


async def served_elsewhere(desk: Desk, ticket_id: str) -> None:
    """As if another process had seen the ticket finish: recorded as served with the record, and
    not among this process's recently finished (its rating then checks window and time in SQL)."""
    await eventually(lambda: desk.pool.fetchval("SELECT 1 FROM eval_served WHERE ticket_id = $1", ticket_id),
                     what="the served ticket recorded")
    desk.app.state.evaluation.recent = RecentlyFinished(size=0)


SEEN = pytest.mark.parametrize("seen_here", [True, False], ids=["seen-finish-here", "recorded-elsewhere"])


@SEEN
async def test_tablet_rates_its_windows_ticket_once(settings: Settings, clock: FixedClock, seen_here: bool) -> None:
    async with desk_for(eval_settings(settings), clock) as desk:
        t = await desk.serve("w3", matter="mi-001")
        if not seen_here:
            await served_elsewhere(desk, t["id"])
        tablet = await desk.token("device", "w3", "tablet")
        r = await desk.rate(t["id"], 5, tablet)
        assert r.status_code == 201, r.text
        got = r.json()
        assert (got["level"], got["channel"], got["window"], got["staff_id"], got["matter"]) == (
            5, "tablet", "w3", f"{C}-s03", "mi-001")
        assert got["prompted"] is False and got["case_id"] is None
        again = await desk.rate(t["id"], 4, tablet)
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
        assert again.json()["code"] == "already_rated"
        assert await count(desk) == 1
        recorded = await desk.events("review.recorded")
        assert [e["review"]["level"] for e in recorded] == [5]
        assert recorded[0]["window_code"] == "w3" and "window" not in recorded[0] and "ticket" not in recorded[0]


@SEEN
async def test_refusals_record_nothing(settings: Settings, clock: FixedClock, seen_here: bool) -> None:
    async with desk_for(eval_settings(settings, QUEUE_REVIEW_TABLET_WINDOW_S="600"), clock) as desk:
        t = await desk.serve("w1")
        if not seen_here:
            await served_elsewhere(desk, t["id"])
        cases = [
            ("tablet of another window", await desk.token("device", "w2", "tablet"), 403),
            ("tablet of another center", await desk.token("device", "w1", "tablet", center="caojiadu"), 403),
            ("staff token", await desk.token("staff", "w1", staff=f"{C}-s01"), 403),
            ("manager token", await desk.token("manager"), 403),
            ("admin token", AUTH, 403),
            ("screen of the window", await desk.token("device", "w1", "screen"), 403),
            ("no token", {}, 401),
            ("bad token", {"Authorization": "Bearer nope"}, 401),
        ]
        for name, headers, status in cases:
            r = await desk.rate(t["id"], 5, headers)
            assert r.status_code == status, (name, r.text)
            assert r.headers["content-type"] == "application/problem+json", name
        tablet = await desk.token("device", "w1", "tablet")
        bad_inputs = [
            ({"level": 0}, "level"), ({"level": 6}, "level"), ({"level": "five"}, "level"),
            ({"level": 1}, "reasons"), ({"level": 2, "reasons": ["rudeness"]}, "reasons.0"),
            ({"level": 5, "channel": "sms"}, "channel"), ({"level": 5, "comment": "x" * 501}, "comment"),
            ({"level": 5, "ticket_id": "../etc"}, "ticket_id"), ({"level": 5, "vip": True}, "vip"),
        ]
        for change, field in bad_inputs:
            body = {"ticket_id": t["id"], "level": 5, "channel": "tablet", "reasons": [], **change}
            r = await desk.client.post("/api/v1/reviews", json=body, headers=tablet)
            assert r.status_code == 422, (change, r.text)
            assert field in {e["field"] for e in r.json()["errors"]}, (change, r.json())
        assert (await desk.rate(f"{C}-20261130-Z999", 5, tablet)).status_code == 404
        assert (await desk.rate("nowhere-20261130-A001", 5, tablet)).status_code == 404
        waiting = (await desk.client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}, headers=AUTH)).json()
        r = await desk.rate(waiting["id"], 5, tablet)
        assert r.status_code == 409 and "waiting" in r.json()["detail"]
        clock.advance(601)
        late = await desk.rate(t["id"], 5, tablet)
        assert late.status_code == 409 and late.json()["code"] == "too_late"
        assert await count(desk) == 0 and await count(desk, "rectifications") == 0


async def test_two_tablets_racing_record_one_rating(settings: Settings, clock: FixedClock) -> None:
    async with desk_for(eval_settings(settings), clock) as desk:
        tablet = await desk.token("device", "w1", "tablet")
        for _ in range(5):
            t = await desk.serve("w1")
            answers = await asyncio.gather(*(desk.rate(t["id"], level, tablet, reasons=["attitude"]) for level in (1, 5, 4, 2)))
            assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
        assert await count(desk) == 5
        bad = await desk.pool.fetchval("SELECT count(*) FROM reviews WHERE level <= 2")
        assert await count(desk, "rectifications") == bad


@SEEN
async def test_twenty_ratings_of_one_ticket_at_once_record_one(settings: Settings, clock: FixedClock,
                                                               seen_here: bool) -> None:
    """However the twenty interleave, one rating is recorded and announced; every other one is told
    the ticket is already rated. A bad one opens the case of the window and staff that served."""
    async with desk_for(eval_settings(settings), clock) as desk:
        tablet = await desk.token("device", "w1", "tablet")
        t = await desk.serve("w1")
        if not seen_here:
            await served_elsewhere(desk, t["id"])
        answers = await asyncio.gather(*(desk.rate(t["id"], 1 + i % 5, tablet, reasons=["attitude"]) for i in range(20)))
        assert sorted(a.status_code for a in answers) == [201] + [409] * 19
        assert {a.json()["code"] for a in answers if a.status_code == 409} == {"already_rated"}
        won = next(a.json() for a in answers if a.status_code == 201)
        assert await desk.pool.fetchval("SELECT level FROM reviews WHERE ticket_id = $1", t["id"]) == won["level"]
        assert [e["review"]["id"] for e in await desk.events("review.recorded")] == [won["id"]]
        assert await count(desk, "rectifications") == (1 if won["bad"] else 0)
        if won["bad"]:
            case = await desk.pool.fetchrow("SELECT * FROM rectifications WHERE id = $1", won["case_id"])
            assert (case["center"], case["window_code"], case["staff_id"], case["owner"]) == (
                C, "w1", f"{C}-s01", f"manager:{C}")


async def test_ratings_are_announced_beside_their_requests_each_once(settings: Settings, clock: FixedClock) -> None:
    """The announcer, not the request, puts a rating's events on the stream: ratings of several
    windows at once are each announced once, a bad one's case with it; and as the app stops, the
    round it cuts into is finished and what waits is announced, each once."""
    windows = ["w1", "w2", "w3", "w4"]
    async with desk_for(eval_settings(settings, QUEUE_REVIEW_TABLET_WINDOW_S="3600"), clock) as desk:
        tablets = {w: await desk.token("device", w, "tablet") for w in windows}
        served = [await desk.serve(w, minutes=1) for w in windows for _ in range(3)]
        answers = await asyncio.gather(*(desk.rate(t["id"], 1 + i % 5, tablets[t["window"]], reasons=["attitude"])
                                         for i, t in enumerate(served)))
        assert [a.status_code for a in answers] == [201] * len(served)
        by_id = {a.json()["id"]: a.json() for a in answers}
        recorded = await desk.events("review.recorded")
        assert sorted(e["review"]["id"] for e in recorded) == sorted(by_id)
        assert sorted(e["case_id"] for e in await desk.events("review.bad")) == sorted(
            r["case_id"] for r in by_id.values() if r["bad"])
        ev = desk.app.state.evaluation
        announcer = desk.app.state.supervisor.tasks["evaluation-announcer"].task
        before = ev.announcing_now
        in_flight = await rated_now(desk, ev)
        while ev.announcing_now is before:        # its round under way...
            await asyncio.sleep(0)
        announcer.cancel()                        # ...when the stop cancels the announcer
        await asyncio.gather(announcer, return_exceptions=True)
        waiting = await rated_now(desk, ev)       # and one the stop finds waiting
        redis, stream = desk.app.state.redis, desk.app.state.keys.events(C)
    entries = await redis.xrange(stream)   # the app has stopped; its client is closed, a command reconnects
    for ticket_id in (in_flight, waiting):
        assert sum(f[b"type"] == b"review.recorded" and orjson.loads(f[b"data"])["ticket_id"] == ticket_id
                   for _, f in entries) == 1


async def rated_now(desk: Desk, ev: Any) -> str:
    """A rating of a ticket just served at w1, recorded and handed to the announcer; its ticket."""
    t = await desk.serve("w1", minutes=1)
    await served_elsewhere(desk, t["id"])
    rec = await reviews.insert(desk.pool, t["id"], NewReview(5, "tablet"), desk.clock.now_ms(), ev.cfg, ev.tz(t["id"]),
                               ev.calendar)
    ev.announce_recorded(rec, desk.clock.now_ms())
    return t["id"]


async def test_a_ratings_commit_waits_for_its_flush_only_in_record_mode(settings: Settings, clock: FixedClock) -> None:
    """In the default mode an operation is acknowledged once Redis has it, and a rating once
    PostgreSQL has it in memory; with QUEUE_DURABILITY=record it waits for the disk, as tickets do."""
    assert EvalConfig.from_settings(settings).commit_waits_for_flush is False
    assert EvalConfig.from_settings(replace(settings, durability="record")).commit_waits_for_flush is True
    async with desk_for(eval_settings(settings), clock) as desk:
        ev = desk.app.state.evaluation
        for waits, mode in ((False, "off"), (True, "on")):
            t = await desk.serve("w1")
            served = await find(ev.engine, desk.pool, t["id"])
            async with desk.pool.acquire() as conn, conn.transaction():
                rec = await reviews.insert(conn, served.ticket_id, NewReview(level=5, channel="tablet"),
                                           clock.now_ms(), replace(ev.cfg, commit_waits_for_flush=waits), ev.tz(t["id"]),
                                           ev.calendar)
                assert rec is not None and await conn.fetchval("SHOW synchronous_commit") == mode
        assert await count(desk) == 2


async def test_a_rating_right_after_finishing_needs_no_record_yet(settings: Settings, clock: FixedClock) -> None:
    """The record (and the served tickets that follow it) has not caught up: Redis knows the ticket,
    the stream names the staff on duty."""
    async with desk_for(eval_settings(settings), clock, run_persister=False) as desk:
        t = await desk.serve("w5", matter="hrss-004")
        assert await desk.pool.fetchval("SELECT count(*) FROM tickets") == 0
        r = await desk.rate(t["id"], 2, await desk.token("device", "w5", "tablet"), reasons=["efficiency"], comment="等了很久")
        assert r.status_code == 201, r.text
        assert (r.json()["staff_id"], r.json()["window"], r.json()["matter"]) == (f"{C}-s05", "w5", "hrss-004")
        assert r.json()["case_id"] is not None
