"""Ratings when a backing service is away, on services the test kills. With PostgreSQL away a tablet
rating or an SMS reply answers 503 with nothing announced, and is recorded with its case once
PostgreSQL is back (the SMS reply on Twilio's retry).
With Redis away a rating, from a tablet or an SMS reply, is recorded and answered (a retry would
only be told it was rated; Twilio's repeated delivery gets its first answer), and announced once,
with its case, when Redis is back."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import orjson

from queue_server.clock import FixedClock, from_ms
from tests.evaluation.conftest import MONDAY, PHONE_E164, Desk, announced, eval_settings, inbound
from tests.faults.conftest import Stage
from tests.support import running_app

C = "jingansi"


async def _announced(desk: Desk, ticket_id: str) -> int:
    await announced(desk.app)
    entries = await desk.app.state.redis.xrange(desk.app.state.keys.events(C))
    return sum(1 for _, f in entries if f[b"type"] == b"review.recorded" and orjson.loads(f[b"data"])["ticket_id"] == ticket_id)


async def _reviews(desk: Desk, ticket_id: str) -> int:
    return await desk.pool.fetchval("SELECT count(*) FROM reviews WHERE ticket_id = $1", ticket_id)


async def _until_answered(send, status: int) -> httpx.Response:  # type: ignore[no-untyped-def]
    """Retry as a tablet or Twilio would until the answer is no longer 503 (the client reconnecting)."""
    for _ in range(100):
        r = await send()
        if r.status_code != 503:
            break
        await asyncio.sleep(0.2)
    assert r.status_code == status, r.text
    return r


async def _prompt_sent(desk: Desk, ticket_id: str, number: str) -> None:
    """The prompt for the ticket as the outbox leaves it once sent (no Twilio needed here)."""
    personal = desk.app.state.personal
    sent = from_ms(desk.clock.now_ms()) - timedelta(seconds=30)
    await eventually_served(desk, ticket_id)
    await desk.pool.execute("INSERT INTO sms_messages (ticket_id, kind, to_sealed, to_lookup, due_at, state, sent_at)"
                            " VALUES ($1, 'prompt', $2, $3, $4, 'sent', $4)",
                            ticket_id, personal.seal(number), personal.lookup(number), sent)


async def eventually_served(desk: Desk, ticket_id: str) -> None:
    for _ in range(200):
        if await desk.pool.fetchval("SELECT 1 FROM eval_served WHERE ticket_id = $1", ticket_id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the served ticket was not recorded")


@contextlib.asynccontextmanager
async def _prompted(stage: Stage) -> AsyncIterator[tuple[Desk, dict[str, Any]]]:
    """A ticket served at w2 whose SMS prompt was sent to the resident."""
    clock = FixedClock(MONDAY)
    settings = eval_settings(stage.settings, TWILIO_AUTH_TOKEN="fault-twilio-token")
    async with running_app(settings, clock) as (app, client):
        desk = Desk(app, client, clock)
        by_sms = await desk.serve("w2")
        await _prompt_sent(desk, by_sms["id"], PHONE_E164)
        yield desk, by_sms


async def test_an_sms_reply_while_redis_is_away_is_recorded_and_answered_then_announced_once(stage: Stage) -> None:
    async with _prompted(stage) as (desk, by_sms):
        reply = inbound("4", "SM" + "f" * 32)
        await asyncio.to_thread(stage.redis.kill)
        try:
            r = await desk.sms(reply)
            assert r.status_code == 200 and "Thank you" in r.text, r.text
            assert await _reviews(desk, by_sms["id"]) == 1
            repeated = await desk.sms(reply)   # Twilio delivering it again: the first answer, nothing more
            assert repeated.status_code == 200 and repeated.text == r.text
            assert await desk.pool.fetchval("SELECT count(*) FROM sms_inbound") == 1
        finally:
            await asyncio.to_thread(stage.redis.restart)
        for _ in range(200):
            if await _announced(desk, by_sms["id"]) == 1:
                break
            await asyncio.sleep(0.1)
        assert await _reviews(desk, by_sms["id"]) == 1 and await _announced(desk, by_sms["id"]) == 1
        again = await desk.sms(inbound("3", "SM" + "e" * 32))
        assert "already been rated" in again.text and await _reviews(desk, by_sms["id"]) == 1
        assert not desk.app.state.evaluation.unannounced


async def test_an_sms_reply_while_postgresql_is_away_is_503_then_recorded_once(stage: Stage) -> None:
    """Twilio retries a 503: the level recorded once, on the retry after PostgreSQL is back, with the
    answer kept for a later repeat of the same delivery."""
    async with _prompted(stage) as (desk, by_sms):
        reply = inbound("2", "SM" + "p" * 32)
        await asyncio.to_thread(stage.postgres.stop)
        try:
            r = await desk.sms(reply)
            assert r.status_code == 503 and r.headers.get("retry-after"), r.text
        finally:
            await asyncio.to_thread(stage.postgres.restart)
        answered = await _until_answered(lambda: desk.sms(reply), 200)
        assert "原因" in answered.text   # a bad level: asked why
        assert (await desk.sms(reply)).text == answered.text
        assert await _reviews(desk, by_sms["id"]) == 1 and await _announced(desk, by_sms["id"]) == 1
        assert await desk.pool.fetchval("SELECT count(*) FROM rectifications WHERE ticket_id = $1", by_sms["id"]) == 1
        assert await desk.pool.fetchval("SELECT conversation FROM sms_messages WHERE ticket_id = $1",
                                        by_sms["id"]) == "reason"


@contextlib.asynccontextmanager
async def _served_at_w1(stage: Stage) -> AsyncIterator[tuple[Desk, dict[str, Any], dict[str, str]]]:
    """A ticket served at w1 and recorded as served, and w1's tablet."""
    clock = FixedClock(MONDAY)
    async with running_app(eval_settings(stage.settings), clock) as (app, client):
        desk = Desk(app, client, clock)
        t = await desk.serve("w1")
        tablet = await desk.token("device", "w1", "tablet")
        await eventually_served(desk, t["id"])
        yield desk, t, tablet


async def test_a_rating_while_postgresql_is_away_is_503_and_announces_nothing(stage: Stage) -> None:
    async with _served_at_w1(stage) as (desk, t, tablet):
        await asyncio.to_thread(stage.postgres.stop)
        try:
            r = await desk.rate(t["id"], 2, tablet, reasons=["attitude"])
            assert r.status_code == 503 and r.headers.get("retry-after"), r.text
            assert await _announced(desk, t["id"]) == 0
        finally:
            await asyncio.to_thread(stage.postgres.restart)
        r = await _until_answered(lambda: desk.rate(t["id"], 2, tablet, reasons=["attitude"]), 201)
        assert r.json()["case_id"] is not None
        assert await _reviews(desk, t["id"]) == 1 and await _announced(desk, t["id"]) == 1


async def test_a_tablet_rating_while_redis_is_away_is_recorded_then_announced_once(stage: Stage) -> None:
    async with _served_at_w1(stage) as (desk, t, tablet):
        await asyncio.to_thread(stage.redis.kill)
        try:
            r = await desk.rate(t["id"], 2, tablet, reasons=["attitude"])
            assert r.status_code == 201, r.text
            assert r.json()["case_id"] is not None and await _reviews(desk, t["id"]) == 1
            again = await desk.rate(t["id"], 5, tablet)
            assert again.status_code == 409 and again.json()["code"] == "already_rated", again.text
        finally:
            await asyncio.to_thread(stage.redis.restart)
        for _ in range(200):
            if await _announced(desk, t["id"]) == 1:
                break
            await asyncio.sleep(0.1)
        entries = await desk.app.state.redis.xrange(desk.app.state.keys.events(C))
        bad = [orjson.loads(f[b"data"]) for _, f in entries if f[b"type"] == b"review.bad"]
        assert await _announced(desk, t["id"]) == 1 and [b["case_id"] for b in bad] == [r.json()["case_id"]]
        assert not desk.app.state.evaluation.unannounced
