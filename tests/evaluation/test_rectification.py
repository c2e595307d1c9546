"""The bad-review loop: a case with working-day deadlines, overdue escalation on the center's stream
driven by the injected clock (once per stage, however many instances), the manager's steps, the
district's ruling on an appeal, and the resident's follow-up rating that closes the case."""
from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg

from evaluation.sms.standin import TwilioStandin
from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.record.calendar import store_calendar_file
from tests.evaluation.conftest import C, PHONE, PHONE_E164, PUBLIC, desk_for, eval_settings, eventually, inbound
from tests.support import AUTH, running_app

FRIDAY = datetime(2026, 12, 4, 7, 0, tzinfo=timezone.utc)  # Friday 15:00 in Shanghai
MS = 1000


def ms(y: int, m: int, d: int) -> int:
    """The start of a day in Shanghai (the end of the day before), as ms."""
    return int(datetime(y, m, d, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp() * MS)


async def bad_review(desk, window: str = "w2", phone: str | None = None) -> tuple[dict, int]:  # type: ignore[no-untyped-def]
    t = await desk.serve(window, phone=phone)
    r = await desk.rate(t["id"], 1, await desk.token("device", window, "tablet"), reasons=["attitude"], comment="态度差")
    assert r.status_code == 201, r.text
    return t, r.json()["case_id"]


async def test_a_bad_review_opens_a_case_with_working_day_deadlines(settings: Settings, tmp_path: Path) -> None:
    clock = FixedClock(FRIDAY)
    calendar_file = tmp_path / "calendar.toml"
    calendar_file.write_text('[official]\nholidays = ["2026-12-14"]\n', encoding="utf-8")  # the one calendar's day off
    conn = await asyncpg.connect(settings.database_url)
    try:
        await store_calendar_file(conn, calendar_file)
    finally:
        await conn.close()
    async with desk_for(eval_settings(settings), clock) as desk:
        t, case_id = await bad_review(desk)
        manager = await desk.token("manager")
        case = (await desk.client.get(f"/api/v1/rectifications/{case_id}", headers=manager)).json()
        assert (case["ticket_id"], case["staff_id"], case["window_code"], case["state"], case["owner"]) == (
            t["id"], f"{C}-s02", "w2", "open", f"manager:{C}")
        assert case["contact_due"] == ms(2026, 12, 8)     # end of Monday
        assert case["resolve_due"] == ms(2026, 12, 12)    # end of Friday a week on
        assert case["rectify_due"] == ms(2026, 12, 29)    # 15 working days, the 14th a holiday
        assert case["notes"][0]["to_state"] == "open"
        listed = (await desk.client.get("/api/v1/rectifications?state=open", headers=manager)).json()["cases"]
        assert [c["id"] for c in listed] == [case_id]
        bad = await desk.events("review.bad")
        assert [(e["case_id"], e["review"]["level"], e["staff_id"]) for e in bad] == [(case_id, 1, f"{C}-s02")]
        good = await desk.serve("w2")
        r = await desk.rate(good["id"], 3, await desk.token("device", "w2", "tablet"))
        assert r.json()["case_id"] is None


async def test_overdue_stages_escalate_once_across_instances(settings: Settings) -> None:
    clock = FixedClock(FRIDAY)
    s = eval_settings(settings)
    async with desk_for(s, clock) as desk, running_app(s, clock):
        _, case_id = await bad_review(desk)
        clock.set(datetime.fromtimestamp(ms(2026, 12, 8) / MS + 60, tz=timezone.utc))  # Tuesday 00:01

        async def overdue(n: int):  # type: ignore[no-untyped-def]
            events = await desk.events("rectification.overdue")
            return events if len(events) >= n else None
        events = await eventually(lambda: overdue(1), what="the contact stage to escalate")
        assert (events[0]["case_id"], events[0]["stage"], events[0]["owner"], events[0]["due_at"]) == (
            case_id, "contact", f"manager:{C}", ms(2026, 12, 8))
        clock.set(datetime.fromtimestamp(ms(2026, 12, 12) / MS + 60, tz=timezone.utc))  # past the resolve deadline
        events = await eventually(lambda: overdue(2), what="the resolve stage to escalate")
        await asyncio.sleep(0.5)  # both instances sweep every 50 ms: time enough to (wrongly) repeat
        events = await desk.events("rectification.overdue")
        assert [e["stage"] for e in events] == ["contact", "resolve"]
        manager = await desk.token("manager")
        case = (await desk.client.get(f"/api/v1/rectifications/{case_id}", headers=manager)).json()
        assert case["escalated"] == ["contact", "resolve"] and case["overdue"] == ["contact", "resolve"]


async def test_the_loop_to_the_follow_up_rating(settings: Settings, standin: TwilioStandin) -> None:
    clock = FixedClock(FRIDAY)
    async with desk_for(eval_settings(settings, standin), clock) as desk:
        t, case_id = await bad_review(desk, phone=PHONE)
        manager = await desk.token("manager")
        staff = await desk.token("staff", "w2", staff=f"{C}-s02")
        other_manager = await desk.token("manager", center="caojiadu")
        step = lambda action, headers, note="": desk.client.post(  # noqa: E731
            f"/api/v1/rectifications/{case_id}/{action}", json={"note": note}, headers=headers)
        assert (await step("contact", staff)).status_code == 403
        assert (await step("contact", other_manager)).status_code == 403
        assert (await step("verify", manager)).status_code == 409
        assert (await step("explode", manager)).status_code == 404
        assert (await desk.client.post("/api/v1/rectifications/999999/contact", json={}, headers=manager)).status_code == 404
        assert (await step("note", manager)).status_code == 422
        r = await step("contact", manager, "called the resident at 16:10")
        assert r.status_code == 200 and r.json()["state"] == "contacted"
        assert (await step("note", manager, "resident asked for a written apology")).status_code == 200
        assert (await step("verify", manager, "CCTV confirms a curt answer")).json()["state"] == "verified"
        rectified = await step("rectify", manager, "service etiquette training done")
        assert rectified.json()["state"] == "rectified" and rectified.json()["rectified_at"]
        updates = await desk.events("rectification.updated")
        assert [u["case"]["state"] for u in updates] == ["contacted", "verified", "rectified"]

        async def followup_sent():  # type: ignore[no-untyped-def]
            return [m for m in standin.to(PHONE_E164) if "整改" in m.body]
        msg = (await eventually(followup_sent, what="the follow-up SMS"))[0]
        token = re.search(re.escape(PUBLIC) + r"/review/([A-Za-z0-9_\-]+)", msg.body).group(1)  # type: ignore[union-attr]
        info = (await desk.client.get(f"/api/v1/reviews/links/{token}")).json()
        assert info["round"] == 2
        r = await desk.rate(t["id"], 4, channel="web", link=token)
        assert r.status_code == 201 and r.json()["round"] == 2
        case = (await desk.client.get(f"/api/v1/rectifications/{case_id}", headers=manager)).json()
        assert case["state"] == "closed" and case["followup_review_id"] == r.json()["id"]
        assert [n["to_state"] for n in case["notes"]] == ["open", "contacted", None, "verified", "rectified", "closed"]
        again = await desk.sms(inbound("5", "SM" + "f" * 32))
        assert "already" in again.text
        assert await desk.pool.fetchval("SELECT count(*) FROM reviews") == 2


async def test_an_appeal_only_the_district_decides(settings: Settings) -> None:
    clock = FixedClock(FRIDAY)
    async with desk_for(eval_settings(settings), clock) as desk:
        _, upheld = await bad_review(desk, "w1")
        _, dismissed = await bad_review(desk, "w3")
        manager = await desk.token("manager")
        for case_id in (upheld, dismissed):
            r = await desk.client.post(f"/api/v1/rectifications/{case_id}/appeal", json={"note": "resident abused staff"},
                                       headers=manager)
            assert r.json()["state"] == "appealed"
        assert (await desk.client.post(f"/api/v1/rectifications/{upheld}/uphold", json={}, headers=manager)).status_code == 403
        r = await desk.client.post(f"/api/v1/rectifications/{upheld}/uphold", json={"note": "recording reviewed"}, headers=AUTH)
        assert r.json()["state"] == "upheld"
        r = await desk.client.post(f"/api/v1/rectifications/{dismissed}/dismiss", json={}, headers=AUTH)
        assert r.json()["state"] == "open"
        excluded = await desk.pool.fetch("SELECT excluded FROM reviews ORDER BY id")
        assert [e["excluded"] for e in excluded] == [True, False]
