"""Remote tickets: a code by SMS (through the outbox and the real twilio library against the stand-in)
verifies the number; the code can't be guessed, reused or used for another number; floods send
nothing more; one live remote ticket per number and center, also when requests race; cancel by the
status token; a called remote ticket not checked in lapses after its grace."""
from __future__ import annotations

import asyncio

from evaluation.sms.standin import TwilioStandin
from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.evaluation.conftest import C, PHONE, PUBLIC, desk_for, eval_settings, eventually
from tests.residents.conftest import Resident, codes_to
from tests.support import AUTH

OTHER = "13911112222"


async def test_a_code_gives_one_ticket_that_the_status_token_cancels(settings: Settings, clock: FixedClock,
                                                                      standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        me = Resident(desk, standin, PHONE)
        code = await me.code()
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        r = await me.take(wrong)
        assert r.status_code == 422 and r.json()["code"] == "code_wrong" and r.json()["attempts_left"] == 4
        r = await me.take(code)
        assert r.status_code == 201, r.text
        t = r.json()
        assert t["channel"] == "remote" and t["status"] == "waiting" and t["phone_masked"] == "138****5678"
        assert t["status_url"] == f"{PUBLIC}/status/{t['id']}#token={t['status_token']}"
        assert "status_token" not in (await desk.client.get(f"/api/v1/tickets/{t['id']}")).json()
        assert (await me.take(code)).json()["code"] == "code_invalid"          # used up

        clock.advance(61)
        r = await me.take(await me.code())
        assert r.status_code == 409 and r.json()["code"] == "remote_ticket_live" and r.json()["ticket"] == t["id"]

        cancel = f"/api/v1/residents/tickets/{t['id']}/cancel"
        assert (await desk.client.post(cancel, json={"token": "x" * 32})).status_code == 403
        r = await desk.client.post(cancel, json={"token": t["status_token"]})
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert (await desk.client.post(cancel, json={"token": t["status_token"]})).status_code == 409

        # The refused code was not used up: with the ticket cancelled, it takes a new one.
        r = await me.take(codes_to(standin, PHONE)[-1])
        assert r.status_code == 201 and r.json()["id"] != t["id"]


async def test_a_code_cannot_be_guessed_or_used_for_another_number(settings: Settings, clock: FixedClock,
                                                                   standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        me = Resident(desk, standin, PHONE)
        code = await me.code()
        assert (await me.take(code, phone=OTHER)).json()["code"] == "code_invalid"
        wrong = [f"{(int(code) + i) % 1_000_000:06d}" for i in range(1, 6)]
        answers = [(await me.take(w)).json() for w in wrong]
        assert [a["code"] for a in answers] == ["code_wrong"] * 4 + ["code_dead"]
        assert [a.get("attempts_left") for a in answers[:4]] == [4, 3, 2, 1]
        r = await me.take(code)                                                # the right one, too late
        assert r.status_code == 422 and r.json()["code"] == "code_invalid"
        clock.advance(61)
        code = await me.code()
        clock.advance(301)                                                     # expired
        assert (await me.take(code)).json()["code"] == "code_invalid"
        assert await desk.pool.fetchval("SELECT count(*) FROM tickets") == 0
        assert await desk.app.state.redis.scard(desk.app.state.keys.live(C)) == 0


async def test_code_floods_send_nothing_more(settings: Settings, clock: FixedClock, standin: TwilioStandin) -> None:
    extra = {"QUEUE_RESIDENT_CODES_PER_ADDRESS_PER_HOUR": "4", "QUEUE_RESIDENT_CODES_PER_NUMBER_PER_HOUR": "3"}
    async with desk_for(eval_settings(settings, standin, **extra), clock) as desk:
        me = Resident(desk, standin, PHONE)
        answers = await asyncio.gather(*(me.ask_code() for _ in range(30)))
        assert sorted(a.status_code for a in answers) == [202] + [429] * 29
        assert all(int(a.headers["retry-after"]) >= 1 for a in answers if a.status_code == 429)
        for _ in range(5):                                 # a minute apart: the hourly limit of the number
            clock.advance(61)
            await me.ask_code()
        others = [await Resident(desk, standin, f"1390000{i:04d}").ask_code() for i in range(5)]
        assert [a.status_code for a in others] == [202, 429, 429, 429, 429]   # the address's 4th code was the last
        await eventually(lambda: desk.pool.fetchval("SELECT count(*) = 4 FROM sms_messages WHERE state = 'sent'"),
                         what="the codes sent")
        await asyncio.sleep(0.3)
        assert len(standin.messages) == 4 and len(codes_to(standin, PHONE)) == 3
        assert await desk.pool.fetchval("SELECT count(*) FROM sms_messages WHERE body IS NOT NULL") == 0


async def test_racing_requests_give_one_live_remote_ticket(settings: Settings, clock: FixedClock,
                                                           standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        me = Resident(desk, standin, PHONE)
        code = await me.code()
        answers = await asyncio.gather(*(me.take(code, matter) for matter in ["hrss-001", "hrss-002"] * 10))
        assert sorted(a.status_code for a in answers) == [201] + [422] * 19
        assert {a.json()["code"] for a in answers if a.status_code == 422} == {"code_invalid"}
        # Two centers are two claims; the same center again is refused while the first lives.
        clock.advance(61)
        assert (await me.take(await me.code("caojiadu"), center="caojiadu")).status_code == 201
        clock.advance(61)
        assert (await me.take(await me.code())).status_code == 409
        live = [t for t in (await desk.client.get(f"/api/v1/centers/{C}/queue", headers=AUTH)).json()["tickets"]
                if t.get("channel") == "remote"]
        assert len(live) == 1


async def test_a_called_remote_ticket_lapses_unless_checked_in(settings: Settings, clock: FixedClock,
                                                                standin: TwilioStandin) -> None:
    extra = {"QUEUE_REMOTE_CHECK_IN_GRACE_S": "120", "QUEUE_RESIDENTS_TICK_S": "0.05",
             "QUEUE_RESIDENTS_CONSUMER_BLOCK_MS": "50"}
    async with desk_for(eval_settings(settings, standin, **extra), clock) as desk:
        away = await Resident(desk, standin, PHONE).ticket()
        clock.advance(61)
        here = await Resident(desk, standin, OTHER).ticket()
        await desk.open("w1", f"{C}-s01")
        await desk.open("w2", f"{C}-s02")
        for window, t in (("w1", away), ("w2", here)):
            r = await desk.client.post(f"/api/v1/centers/{C}/windows/{window}/call-next",
                                       json={"ticket": t["id"], "reason": "test"}, headers=AUTH)
            assert r.status_code == 200, r.text
        kiosk = await desk.token("device", kind="kiosk")
        check_in = f"/api/v1/residents/centers/{C}/check-in"
        r = await desk.client.post(check_in, json={"ticket": here["number"].lower()}, headers=kiosk)   # typed at the kiosk
        assert r.status_code == 200 and r.json()["id"] == here["id"] and r.json()["present_at"]
        again = await desk.client.post(check_in, json={"ticket": f"{PUBLIC}/status/{here['id']}"}, headers=kiosk)  # scanned
        assert again.status_code == 200 and again.json()["present_at"] == r.json()["present_at"]
        assert (await desk.client.post(check_in, json={"ticket": "Z999"}, headers=kiosk)).status_code == 404
        assert (await desk.client.post(check_in, json={"ticket": "caojiadu-20261130-A001"}, headers=kiosk)).status_code == 422
        clock.advance(60)
        await asyncio.sleep(0.5)
        assert (await desk.client.get(f"/api/v1/tickets/{away['id']}")).json()["status"] == "called"
        clock.advance(61)

        async def lapsed() -> bool:
            return (await desk.client.get(f"/api/v1/tickets/{away['id']}")).json()["status"] == "no_show"
        await eventually(lapsed, what="the lapse")
        await asyncio.sleep(0.3)
        assert (await desk.client.get(f"/api/v1/tickets/{here['id']}")).json()["status"] == "called"
        other_center = await desk.token("device", kind="kiosk", center="caojiadu")
        assert (await desk.client.post(check_in, json={"ticket": here["id"]}, headers=other_center)).status_code == 403
        display = await desk.token("device", kind="display")
        assert (await desk.client.post(check_in, json={"ticket": here["id"]}, headers=display)).status_code == 403


async def test_a_claim_whose_ticket_could_not_be_issued_is_given_back(settings: Settings, clock: FixedClock,
                                                                      standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin, QUEUE_RESIDENT_CODE_GAP_S="10"), clock,
                        run_persister=False) as desk:
        me = Resident(desk, standin, PHONE)
        code = await me.code()
        redis, alive = desk.app.state.redis, desk.app.state.keys.alive(C)
        await redis.delete(alive)                  # what a Redis that lost the center looks like to the issue
        r = await me.take(code)
        assert r.status_code == 503 and r.headers["retry-after"], r.text
        await redis.set(alive, "1")
        clock.advance(11)                          # well within the 30 s a claim in flight holds the number
        r = await me.take(await me.code())         # the number is free again at once: not "being issued"
        assert r.status_code == 201, r.text
        assert len([t for t in (await desk.client.get(f"/api/v1/centers/{C}/queue", headers=AUTH)).json()["tickets"]
                    if t.get("channel") == "remote"]) == 1
