"""SMS through the real twilio library against the local stand-in of Twilio's Messages API, and the
webhooks driven with signatures from twilio's RequestValidator."""
from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import httpx

from evaluation.sms.standin import TwilioStandin
from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.evaluation.conftest import C, PHONE, PHONE_E164, PUBLIC, desk_for, eval_settings, eventually, inbound
from tests.support import running_app


async def prompt_sent(desk, standin: TwilioStandin, number: str = PHONE_E164, n: int = 1):  # type: ignore[no-untyped-def]
    """The n-th SMS the stand-in got for ``number``, once the outbox has recorded it as sent."""
    async def check():  # type: ignore[no-untyped-def]
        return len(standin.to(number)) >= n
    await eventually(check, what=f"{n} SMS to the stand-in")
    msg = standin.to(number)[n - 1]
    await eventually(lambda: desk.pool.fetchval("SELECT 1 FROM sms_messages WHERE twilio_sid = $1 AND state = 'sent'",
                                                msg.sid), what="the send to be recorded")
    return msg


async def queued(desk, n: int = 1) -> None:  # type: ignore[no-untyped-def]
    async def check():  # type: ignore[no-untyped-def]
        return await desk.pool.fetchval("SELECT count(*) FROM sms_messages") >= n
    await eventually(check, what="the prompt to be queued")


async def test_prompt_after_the_delay_and_a_reply_recorded_once(settings: Settings, clock: FixedClock,
                                                                 standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        t = await desk.serve("w2", phone=PHONE)
        await queued(desk)
        await asyncio.sleep(0.2)
        assert standin.messages == []  # not before the delay
        clock.advance(301)
        msg = await prompt_sent(desk, standin)
        window = desk.app.state.engine.catalog.centers[C].windows["w2"]
        assert t["number"] in msg.body and window.name_zh in msg.body and window.name_en in msg.body
        assert "Reply 5" in msg.body and "退订" in msg.body
        link = re.search(re.escape(PUBLIC) + r"/review/([A-Za-z0-9_\-]+)", msg.body)
        assert link and msg.status_callback == PUBLIC + "/sms/twilio/status"
        row = await desk.pool.fetchrow("SELECT state, twilio_sid, twilio_status FROM sms_messages")
        assert (row["state"], row["twilio_sid"], row["twilio_status"]) == ("sent", standin.messages[0].sid, "queued")

        reply = inbound("5", "SM" + "a" * 32)
        answers = await asyncio.gather(*(desk.sms(reply) for _ in range(3)))
        answers.append(await desk.sms(reply))
        assert {a.status_code for a in answers} == {200}
        assert len({a.text for a in answers}) == 1 and "Thank you" in answers[0].text
        assert answers[0].headers["content-type"].startswith("application/xml")
        rows = await desk.pool.fetch("SELECT level, channel, prompted FROM reviews")
        assert [tuple(r) for r in rows] == [(5, "sms", True)]
        assert await desk.pool.fetchval("SELECT count(*) FROM sms_inbound") == 1

        forged = await desk.sms(inbound("1", "SM" + "b" * 32), token="not-the-auth-token")
        assert forged.status_code == 403 and forged.headers["content-type"] == "application/problem+json"
        unsigned = await desk.client.post("/sms/twilio/inbound", data=inbound("1", "SM" + "c" * 32))
        assert unsigned.status_code == 403
        assert await desk.pool.fetchval("SELECT count(*) FROM sms_inbound") == 1
        assert [tuple(r) for r in await desk.pool.fetch("SELECT level, channel, prompted FROM reviews")] == [(5, "sms", True)]

        # the link in the SMS was not used: the ticket is rated, so it gets a 409
        r = await desk.rate(t["id"], 4, channel="web", link=link.group(1))
        assert r.status_code == 409


async def test_twenty_replies_to_one_prompt_at_once_record_one_rating(settings: Settings, clock: FixedClock,
                                                                       standin: TwilioStandin) -> None:
    """Twenty different replies from one number at once: the prompt's lock takes them in turn, the
    first records its rating and every later one is told the service is already rated."""
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        await desk.serve("w2", phone=PHONE)
        await queued(desk)
        clock.advance(301)
        await prompt_sent(desk, standin)
        answers = await asyncio.gather(*(desk.sms(inbound(str(4 + i % 2), f"SM{i:032d}")) for i in range(20)))
        assert {a.status_code for a in answers} == {200}
        assert sorted("Thank you for your rating" in a.text for a in answers) == [False] * 19 + [True]
        assert all("already been rated" in a.text for a in answers if "Thank you for your rating" not in a.text)
        assert await desk.pool.fetchval("SELECT count(*) FROM reviews") == 1
        assert len(await desk.events("review.recorded")) == 1
        assert await desk.pool.fetchval("SELECT count(*) FROM sms_inbound WHERE outcome = 'rate'") == 0
        assert await desk.pool.fetchval("SELECT count(*) FROM sms_inbound WHERE outcome = 'rated'") == 1


async def one_rating(desk, answers: list[httpx.Response], deliveries: int) -> None:  # type: ignore[no-untyped-def]
    """Replies to one prompt, the first three one delivery's repeats: one rating, by the repeats (all
    three thanked) or by one other reply (the rest told it is rated), announced once, and each
    delivery kept once."""
    assert {a.status_code for a in answers} == {200}
    thanked = [i for i, a in enumerate(answers) if "Thank you for your rating" in a.text]
    assert thanked == [0, 1, 2] or (len(thanked) == 1 and thanked[0] >= 3), [a.text for a in answers]
    assert all("already been rated" in a.text for i, a in enumerate(answers) if i not in thanked)
    assert await desk.pool.fetchval("SELECT count(*) FROM reviews") == 1
    assert await desk.pool.fetchval("SELECT count(*) FROM sms_inbound") == deliveries
    assert await desk.pool.fetchval("SELECT count(*) FROM sms_inbound WHERE outcome = 'rated'") == 1
    assert len(await desk.events("review.recorded")) == 1


async def test_repeats_of_one_reply_beside_other_replies_all_at_once(settings: Settings, clock: FixedClock,
                                                                     standin: TwilioStandin) -> None:
    """One level delivered three times at once beside five other levels from the number: one rating,
    every delivery answered once, and the three repeats given one answer (whichever reply rated)."""
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        await desk.serve("w2", phone=PHONE)
        await queued(desk)
        clock.advance(301)
        await prompt_sent(desk, standin)
        repeated = inbound("5", "SM" + "r" * 32)
        sends = [desk.sms(repeated) for _ in range(3)] + [desk.sms(inbound("4", f"SM{i:032d}")) for i in range(5)]
        answers = await asyncio.gather(*sends)
        await one_rating(desk, answers, deliveries=6)
        assert await desk.pool.fetchval("SELECT conversation FROM sms_messages") == "done"


async def test_replies_held_at_the_served_row_take_their_turn(settings: Settings, clock: FixedClock,
                                                              standin: TwilioStandin) -> None:
    """Five levels, three of them one delivery, waiting on the served row's lock (held by a transaction
    elsewhere) when it is released: one rating; the repeats one answer; the others told it is rated;
    every delivery kept once."""
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        t = await desk.serve("w2", phone=PHONE)
        await queued(desk)
        clock.advance(301)
        await prompt_sent(desk, standin)
        repeated = inbound("5", "SM" + "h" * 32)
        async with desk.pool.acquire() as holder:
            held = holder.transaction()
            await held.start()
            await holder.execute("SELECT 1 FROM eval_served WHERE ticket_id = $1 FOR UPDATE", t["id"])
            sends = [asyncio.ensure_future(desk.sms(repeated)) for _ in range(3)]
            sends += [asyncio.ensure_future(desk.sms(inbound("4", f"SM{i:032d}"))) for i in range(2)]

            async def waiting() -> bool:   # most of them at the lock (a connection's first use may lag)
                return await holder.fetchval("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                             " AND datname = current_database()") >= 3
            await eventually(waiting, what="the replies to wait on the served row")
            await asyncio.sleep(0.3)
            await held.commit()
        answers = await asyncio.gather(*sends)
        await one_rating(desk, answers, deliveries=3)


async def test_a_level_for_a_ticket_past_its_rating_period_is_told_so(settings: Settings, clock: FixedClock,
                                                                    standin: TwilioStandin) -> None:
    """The served ticket marked unrated after the prompt: the level records nothing, the resident is
    told the rating period is over, and a repeat of the delivery gets the same answer."""
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        t = await desk.serve("w2", phone=PHONE)
        await queued(desk)
        clock.advance(301)
        await prompt_sent(desk, standin)
        await desk.pool.execute("UPDATE eval_served SET unrated_at = now() WHERE ticket_id = $1", t["id"])
        reply = inbound("5", "SM" + "t" * 32)
        first = await desk.sms(reply)
        assert first.status_code == 200 and "period" in first.text.lower(), first.text
        assert (await desk.sms(reply)).text == first.text
        assert await desk.pool.fetchval("SELECT count(*) FROM reviews") == 0
        assert await desk.pool.fetchval("SELECT outcome FROM sms_inbound") == "too_late"


async def test_status_callbacks_are_recorded(settings: Settings, clock: FixedClock, standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        await desk.serve("w1", phone=PHONE)
        await queued(desk)
        clock.advance(301)
        sid = (await prompt_sent(desk, standin)).sid
        for status in ("sent", "delivered", "sent"):  # callbacks may arrive out of order
            r = await desk.sms({"MessageSid": sid, "MessageStatus": status, "To": PHONE_E164}, path="/sms/twilio/status")
            assert r.status_code == 204
        forged = await desk.sms({"MessageSid": sid, "MessageStatus": "failed"}, path="/sms/twilio/status", token="x")
        assert forged.status_code == 403
        assert await desk.pool.fetchval("SELECT twilio_status FROM sms_messages") == "delivered"
        statuses = await desk.pool.fetch("SELECT status FROM sms_status_events ORDER BY status")
        assert [r["status"] for r in statuses] == ["delivered", "sent"]


async def test_a_bad_reply_asks_why_and_opens_a_case(settings: Settings, clock: FixedClock, standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        t = await desk.serve("w4", phone="+86" + PHONE)
        await queued(desk)
        clock.advance(301)
        await prompt_sent(desk, standin)
        first = await desk.sms(inbound("非常不满意", "SM" + "1" * 32))
        assert "原因" in first.text and "attitude" in first.text
        review = await desk.pool.fetchrow("SELECT level, reasons FROM reviews")
        assert (review["level"], review["reasons"]) == (1, [])
        second = await desk.sms(inbound("2 3 态度不好，也不懂业务", "SM" + "2" * 32))
        assert "contact you" in second.text
        review = await desk.pool.fetchrow("SELECT level, reasons, comment FROM reviews")
        assert review["reasons"] == ["attitude", "professionalism"] and "态度不好" in review["comment"]
        third = await desk.sms(inbound("5", "SM" + "3" * 32))
        assert "already" in third.text
        assert await desk.pool.fetchval("SELECT count(*) FROM reviews") == 1
        case = await desk.pool.fetchrow("SELECT ticket_id, staff_id, state FROM rectifications")
        assert (case["ticket_id"], case["staff_id"], case["state"]) == (t["id"], f"{C}-s04", "open")
        bad = await desk.events("review.bad")
        assert len(bad) == 1 and bad[0]["case_id"] and PHONE not in str(bad)


async def test_stop_stops_every_later_sms(settings: Settings, clock: FixedClock, standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        await desk.serve("w1", phone=PHONE, minutes=1)
        await queued(desk)
        clock.advance(301)
        await prompt_sent(desk, standin)
        pending = await desk.serve("w1", phone=PHONE, minutes=1)  # queued, not yet due
        await queued(desk, 2)
        stop = await desk.sms(inbound("STOP", "SM" + "4" * 32))
        assert stop.status_code == 200 and "<Message>" not in stop.text  # Twilio confirms STOP itself
        assert await desk.pool.fetchval("SELECT keyword FROM sms_optouts WHERE number_lookup = $1",
                                        desk.app.state.personal.lookup(PHONE_E164)) == "STOP"
        later = await desk.serve("w1", phone=PHONE, minutes=1)
        await eventually(lambda: desk.pool.fetchval("SELECT 1 FROM eval_served WHERE ticket_id = $1", later["id"]))
        clock.advance(3600)
        other = await desk.serve("w1", phone="13900001111", minutes=1)
        clock.advance(301)
        await prompt_sent(desk, standin, "+8613900001111")
        assert len(standin.to(PHONE_E164)) == 1
        states = dict(await desk.pool.fetch("SELECT ticket_id, state FROM sms_messages"))
        assert states[pending["id"]] == "suppressed" and later["id"] not in states and states[other["id"]] == "sent"
        # 退订 works too (and gets a confirmation, Twilio does not know that word)
        td = await desk.sms(inbound("退订", "SM" + "5" * 32, "+8613900001111"))
        assert "START" in td.text
        assert await desk.pool.fetchval("SELECT count(*) FROM sms_optouts") == 2


async def test_twilio_refusing_an_unsubscribed_number_records_the_opt_out(settings: Settings, clock: FixedClock,
                                                                         standin: TwilioStandin) -> None:
    standin.unsubscribed.add(PHONE_E164)
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        await desk.serve("w1", phone=PHONE)
        await queued(desk)
        clock.advance(301)

        async def suppressed():  # type: ignore[no-untyped-def]
            return await desk.pool.fetchval("SELECT state FROM sms_messages") == "suppressed"
        await eventually(suppressed, what="the refused message to be suppressed")
        # the opt-out is recorded just after the message is marked
        await eventually(lambda: desk.pool.fetchval("SELECT keyword FROM sms_optouts"), what="the opt-out")
        assert await desk.pool.fetchval("SELECT keyword FROM sms_optouts") == "twilio-21610"


async def test_failures_retry_with_backoff(settings: Settings, clock: FixedClock, standin: TwilioStandin) -> None:
    standin.fail_next(503, 500)
    async with desk_for(eval_settings(settings, standin, QUEUE_SMS_BACKOFF_S="10"), clock) as desk:
        await desk.serve("w1", phone=PHONE)
        await queued(desk)
        clock.advance(301)

        async def attempts(n: int):  # type: ignore[no-untyped-def]
            row = await desk.pool.fetchrow("SELECT state, attempts, last_error FROM sms_messages")
            return row if row["attempts"] == n and row["state"] == "queued" else None
        first = await eventually(lambda: attempts(1), what="a first failed attempt")
        assert "503" in first["last_error"]
        clock.advance(10)  # backoff 10 s after the first failure
        await eventually(lambda: attempts(2), what="a second failed attempt")
        clock.advance(19)
        await asyncio.sleep(0.2)
        assert standin.messages == []  # 20 s after the second: not yet
        clock.advance(1)
        await prompt_sent(desk, standin)
        assert await desk.pool.fetchval("SELECT attempts FROM sms_messages") == 3


async def test_a_rating_on_the_tablet_cancels_the_sms(settings: Settings, clock: FixedClock, standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        t = await desk.serve("w1", phone=PHONE)
        await queued(desk)
        assert (await desk.rate(t["id"], 4, await desk.token("device", "w1", "tablet"))).status_code == 201
        clock.advance(301)
        other = await desk.serve("w2", phone="13900002222")
        clock.advance(301)
        await prompt_sent(desk, standin, "+8613900002222")
        assert standin.to(PHONE_E164) == []
        assert await desk.pool.fetchval("SELECT state FROM sms_messages WHERE ticket_id = $1", t["id"]) == "skipped"
        assert other["id"]


async def test_per_number_hourly_limit(settings: Settings, clock: FixedClock, standin: TwilioStandin) -> None:
    async with desk_for(eval_settings(settings, standin, QUEUE_SMS_PER_NUMBER_PER_HOUR="2"), clock) as desk:
        for _ in range(4):
            await desk.serve("w1", phone=PHONE, minutes=0.5)
        await queued(desk, 4)
        clock.advance(301)
        await prompt_sent(desk, standin, n=2)

        async def deferred():  # type: ignore[no-untyped-def]
            return await desk.pool.fetchval("SELECT count(*) FROM sms_messages WHERE state = 'queued' AND attempts = 0") == 2
        await eventually(deferred, what="two messages deferred by the limit")
        assert len(standin.to(PHONE_E164)) == 2
        clock.advance(3600)
        await prompt_sent(desk, standin, n=4)


async def test_two_instances_never_send_the_same_message(settings: Settings, clock: FixedClock,
                                                         standin: TwilioStandin) -> None:
    s = eval_settings(settings, standin, QUEUE_SMS_BATCH="5")
    async with desk_for(s, clock) as desk, running_app(s, clock):
        for i in range(30):
            await desk.serve(f"w{i % 8 + 1}", phone=f"139{i:08d}", minutes=0.1)
        await queued(desk, 30)
        clock.advance(600)

        async def all_sent():  # type: ignore[no-untyped-def]
            return await desk.pool.fetchval("SELECT count(*) FROM sms_messages WHERE state = 'sent'") == 30
        await eventually(all_sent, what="30 messages sent")
        await asyncio.sleep(0.3)
        assert len(standin.messages) == 30
        assert len({m.to for m in standin.messages}) == 30


def test_the_standins_message_list_follows_what_was_sent() -> None:
    """What a load run's SMS users read: the stand-in's message list from the N-th message on."""
    standin = TwilioStandin()
    with standin.serve() as url:
        path = f"{url}/2010-04-01/Accounts/{standin.account_sid}/Messages.json"
        auth = (standin.account_sid, standin.auth_token)
        for n in range(3):
            assert httpx.post(path, auth=auth, data={"To": f"+861390000000{n}", "From": "+8610690000",
                                                     "Body": "rate us"}).status_code == 201
        first = httpx.get(path, params={"after": 0}).json()
        assert [m["to"] for m in first["messages"]] == ["+8613900000000", "+8613900000001", "+8613900000002"]
        assert first["next"] == 3
        assert httpx.post(path, auth=auth, data={"To": "+8613900000003", "From": "+8610690000",
                                                 "Body": "rate us"}).status_code == 201
        later = httpx.get(path, params={"after": first["next"]}).json()
        assert [m["to"] for m in later["messages"]] == ["+8613900000003"] and later["next"] == 4


def test_the_sender_has_twilio_imported_before_the_first_message() -> None:
    """twilio imports its REST API (some 90 modules) on the first ``client.messages``: in a fresh
    interpreter, making the sender (at the server's start) has done it, so the morning's first prompt
    never stalls the event loop on imports."""
    probe = ("import asyncio, sys\n"
             "from evaluation.sms.twilio_client import TwilioSender\n"
             "async def main():\n"
             "    assert 'twilio.rest.api.v2010.account.message' not in sys.modules\n"
             "    s = TwilioSender('AC' + 'a' * 32, 'token', '+8610690000', 'http://127.0.0.1:9', 'http://x/cb')\n"
             "    assert 'twilio.rest.api.v2010.account.message' in sys.modules\n"
             "    await s.close()\n"
             "asyncio.run(main())\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
