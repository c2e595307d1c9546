""""Your turn is near" and "you are called" SMS: each once per remote ticket (none for a kiosk's by
default) while the position crosses the threshold twice (a priority ticket cutting in), when the consumer re-reads every event after a
restart, and never to a number that opted out."""
from __future__ import annotations

import asyncio
from typing import Any

from evaluation.sms.standin import TwilioStandin
from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.evaluation.conftest import C, PHONE, PHONE_E164, Desk, desk_for, eval_settings, eventually, inbound
from tests.residents.conftest import Resident
from tests.support import AUTH

FAST = {"QUEUE_RESIDENTS_CONSUMER_BLOCK_MS": "50", "QUEUE_TURN_NEAR_AHEAD_BY_CENTER": "caojiadu=1"}
OTHER_E164 = "+8613911112222"


async def issue(desk: Desk, phone: str | None = None, priority: str = "normal") -> dict[str, Any]:
    body = {"matter": "hrss-001", "priority": priority, **({"phone": phone} if phone else {})}
    r = await desk.client.post(f"/api/v1/centers/{C}/tickets", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    return r.json()


async def serve_next(desk: Desk, window: str = "w1") -> dict[str, Any]:
    r = await desk.client.post(f"/api/v1/centers/{C}/windows/{window}/call-next", headers=AUTH)
    assert r.status_code == 200, r.text
    t = r.json()["ticket"]
    for action in ("start", "finish"):
        assert (await desk.client.post(f"/api/v1/tickets/{t['id']}/{action}", headers=AUTH)).status_code == 200
    return t


async def caught_up(desk: Desk) -> None:
    """The residents group has read and acknowledged every event of the center, and the outbox sent its
    messages (rating prompts wait for their delay)."""
    redis, key = desk.app.state.redis, desk.app.state.keys.events(C)

    async def done() -> bool:
        last = (await redis.xrevrange(key, count=1))[0][0]
        group = next(g for g in await redis.xinfo_groups(key) if g["name"] in (b"residents", "residents"))
        queued = await desk.pool.fetchval("SELECT count(*) FROM sms_messages WHERE state IN ('queued', 'sending')"
                                          " AND kind = 'notice'")
        return group["last-delivered-id"] == last and group["pending"] == 0 and queued == 0
    await eventually(done, what="the residents group and the outbox to catch up")


async def ahead(desk: Desk, ticket_id: str) -> int:
    return (await desk.client.get(f"/api/v1/tickets/{ticket_id}")).json()["ahead"]


def notices(standin: TwilioStandin, number: str) -> list[str]:
    return ["near" if "快到您了" in m.body else "called" if "请" in m.body and "办理" in m.body else "code"
            for m in standin.to(number)]


async def test_near_and_called_go_out_once_each(settings: Settings, clock: FixedClock, standin: TwilioStandin) -> None:
    mine = eval_settings(settings, standin, **FAST)
    async with desk_for(mine, clock) as desk:
        await desk.open("w1", f"{C}-s01")
        for _ in range(5):
            await issue(desk)
        await issue(desk, phone=OTHER_E164)                                   # a kiosk's: no notices by default
        t = (await Resident(desk, standin, PHONE).ticket())
        assert t["ahead"] == 6
        for _ in range(2):
            await serve_next(desk)
        await caught_up(desk)
        assert notices(standin, PHONE_E164) == ["code"]                       # 4 ahead: not yet
        await serve_next(desk)
        await caught_up(desk)
        assert await ahead(desk, t["id"]) == 3
        assert notices(standin, PHONE_E164) == ["code", "near"]
        near = standin.to(PHONE_E164)[-1].body
        assert t["number"] in near and "还有3位" in near and "3 people ahead" in near
        for _ in range(3):                                                    # priority tickets cut in: 6 ahead
            await issue(desk, priority="priority")
        assert await ahead(desk, t["id"]) == 6
        for _ in range(3):                                                    # and back under the threshold
            await serve_next(desk)
        await caught_up(desk)
        assert await ahead(desk, t["id"]) == 3
        assert notices(standin, PHONE_E164) == ["code", "near"]
        called = await desk.client.post(f"/api/v1/centers/{C}/windows/w1/call-next",
                                        json={"ticket": t["id"], "reason": "test"}, headers=AUTH)
        assert called.status_code == 200, called.text
        assert (await desk.client.post(f"/api/v1/tickets/{t['id']}/recall", headers=AUTH)).status_code == 200
        await caught_up(desk)
        assert notices(standin, PHONE_E164) == ["code", "near", "called"]
        body = standin.to(PHONE_E164)[-1].body
        assert "1号窗口" in body and "Window 1" in body and t["number"] in body
        sent = len(standin.messages)
        assert standin.to(OTHER_E164) == []

    # A restart whose consumer group re-reads the whole stream from the start: nothing goes out again.
    from redis.asyncio import Redis
    r = Redis.from_url(settings.redis_url)
    await r.xgroup_setid(desk.app.state.keys.events(C), "residents", "0")
    await r.aclose()
    async with desk_for(mine, clock) as again:
        await caught_up(again)
        await asyncio.sleep(0.3)
        assert len(standin.messages) == sent
        assert await again.pool.fetchval(
            "SELECT count(*) FROM sms_messages WHERE ticket_id LIKE $1 || ':%'", t["id"]) == 2


async def test_a_ticket_cancelled_ahead_brings_the_next_near_without_a_call(settings: Settings, clock: FixedClock,
                                                                              standin: TwilioStandin) -> None:
    """The watch is looked at after the events that can bring a waiting ticket nearer (``brings_nearer``),
    not after every event: a call is one, and so is a ticket leaving a waiting line another way."""
    async with desk_for(eval_settings(settings, standin, **FAST), clock) as desk:
        await desk.open("w1", f"{C}-s01")
        before = [await issue(desk) for _ in range(4)]
        t = await Resident(desk, standin, PHONE).ticket()
        assert t["ahead"] == 4
        await caught_up(desk)
        assert notices(standin, PHONE_E164) == ["code"]
        r = await desk.client.post(f"/api/v1/tickets/{before[1]['id']}/cancel", headers=AUTH)
        assert r.status_code == 200, r.text
        await caught_up(desk)
        assert await ahead(desk, t["id"]) == 3
        assert notices(standin, PHONE_E164) == ["code", "near"]


async def test_no_notice_to_a_number_that_opted_out(settings: Settings, clock: FixedClock,
                                                    standin: TwilioStandin) -> None:
    kiosk_too = {**FAST, "QUEUE_TURN_NOTICE_CHANNELS": "remote,kiosk"}
    async with desk_for(eval_settings(settings, standin, **kiosk_too), clock) as desk:
        assert (await desk.sms(inbound("STOP", "SM" + "1" * 32, OTHER_E164))).status_code == 200
        await desk.open("w1", f"{C}-s01")
        quiet = await issue(desk, phone=OTHER_E164)
        told = await issue(desk, phone=PHONE)
        await caught_up(desk)
        while (await serve_next(desk))["id"] != told["id"]:
            pass
        await caught_up(desk)
        assert standin.to(OTHER_E164) == []
        assert notices(standin, PHONE_E164) == ["near", "called"]
        assert await desk.pool.fetchval("SELECT count(*) FROM sms_messages WHERE ticket_id LIKE $1 || '%'", quiet["id"]) == 0


async def test_the_threshold_is_per_center(settings: Settings, clock: FixedClock, standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin, **FAST), clock) as desk:
        r = await desk.client.get("/api/v1/residents/centers/caojiadu")
        assert r.json()["near_ahead"] == 1
        assert (await desk.client.get(f"/api/v1/residents/centers/{C}")).json()["near_ahead"] == 3
        assert (await desk.client.get("/api/v1/residents/centers/nowhere")).status_code == 404
