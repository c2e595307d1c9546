"""A resident's phone number never leaves in full: not in an API answer, a page, the review export,
an event the evaluation emits, or a log line — followed through SMS, a bad review, its case and the
figures, with a failing send on the way so the error paths log too; and PostgreSQL holds it in no
row in clear (record/personal.py seals it)."""
from __future__ import annotations

import logging
import re

from evaluation.sms.standin import TwilioStandin
from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.evaluation.conftest import C, PHONE, PUBLIC, desk_for, eval_settings, eventually, inbound
from tests.support import AUTH

OTHER = "13911112222"


async def test_the_number_stays_inside(settings: Settings, clock: FixedClock, standin: TwilioStandin, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    standin.fail_next(500)  # the first send fails and is retried: its log line must not carry the number
    async with desk_for(eval_settings(settings, standin, QUEUE_SMS_BACKOFF_S="1"), clock) as desk:
        t = await desk.serve("w1", phone=PHONE)
        u = await desk.serve("w2", phone="+86" + OTHER)
        clock.advance(301)
        await eventually(lambda: desk.pool.fetchval("SELECT 1 FROM sms_messages WHERE last_error IS NOT NULL"))
        clock.advance(5)

        async def both_sent():  # type: ignore[no-untyped-def]
            return await desk.pool.fetchval("SELECT count(*) FROM sms_messages WHERE state = 'sent'") == 2
        await eventually(both_sent, what="both prompts sent")
        sent = standin.to("+86" + PHONE)[0]
        await desk.sms(inbound("1", "SM" + "9" * 32, "+86" + PHONE))
        await desk.sms(inbound("态度 差", "SM" + "8" * 32, "+86" + PHONE))
        await desk.sms(inbound("TD", "SM" + "7" * 32, "+86" + OTHER))
        await desk.sms({"MessageSid": sent.sid, "MessageStatus": "delivered", "To": "+86" + PHONE}, path="/sms/twilio/status")
        token = re.search(re.escape(PUBLIC) + r"/review/([A-Za-z0-9_\-]+)", standin.to("+86" + OTHER)[0].body).group(1)  # type: ignore[union-attr]
        manager = await desk.token("manager")
        gets = [f"/api/v1/tickets/{t['id']}", f"/api/v1/centers/{C}/queue", f"/api/v1/reviews/links/{token}",
                f"/review/{token}", "/api/v1/rectifications", "/api/v1/reviews/figures?by=window,staff,matter",
                "/api/v1/reviews/export.csv", "/openapi.json"]
        for path in gets:
            r = await desk.client.get(path, headers=manager if "rectif" in path or "figures" in path or "export" in path else {})
            assert r.status_code == 200, (path, r.text)
        case_id = (await desk.client.get("/api/v1/rectifications", headers=manager)).json()["cases"][0]["id"]
        for action in ("contact", "verify", "rectify"):
            await desk.client.post(f"/api/v1/rectifications/{case_id}/{action}", json={"note": "ok"}, headers=manager)
        await desk.client.get(f"/api/v1/rectifications/{case_id}", headers=AUTH)
        r = await desk.rate(u["id"], 5, channel="web", link=token)
        assert r.status_code == 201
        export = await desk.client.get("/api/v1/reviews/export.csv", headers=manager)
        assert export.text.count("\n") == 3 and "sms" in export.text  # header + the two ratings

        answers = b"\n".join(desk.bodies).decode("utf-8", "replace")
        assert len(desk.bodies) >= 20
        mine = [e for kind in ("review.recorded", "review.bad", "rectification.updated") for e in await desk.events(kind)]
        assert len(mine) >= 5
        for number in (PHONE, OTHER):
            assert number not in answers
            assert number not in str(mine)
            assert number not in caplog.text
        assert "138****5678" in answers  # the masked form is what the ticket shows
        # the failed send (to whichever number went first) was logged by the number's hash
        assert any(f"to {desk.app.state.personal.handle(n)} failed (http 500" in caplog.text for n in (PHONE, OTHER))

        await eventually(lambda: desk.pool.fetchval("SELECT count(*) FROM tickets WHERE phone_sealed IS NOT NULL"
                                                    " AND status = 'finished'"), what="the tickets recorded")
        assert await desk.pool.fetchval("SELECT count(*) FROM sms_messages WHERE kind = 'followup'") == 1
        tickets = await desk.client.get(f"/api/v1/ops/tickets.csv?since=2026-11-30&until=2026-11-30&center={C}", headers=AUTH)
        assert tickets.status_code == 200 and "138****5678" in tickets.text and PHONE not in tickets.text
        for number in (PHONE, OTHER):
            assert await rows_holding(desk.pool, number[3:]) == []   # every row of every table, as text


async def rows_holding(pool, needle: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every row of every table of the database, as text, that holds ``needle``."""
    found = []
    for (table,) in await pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
        found += [f"{table}: {text}" for (text,) in await pool.fetch(f'SELECT x::text FROM "{table}" x') if needle in text]
    return found
