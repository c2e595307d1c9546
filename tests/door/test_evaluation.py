"""A door-to-door case's SMS through the real outbox and the real Twilio library (against the
stand-in): the materials list ahead of the visit, the rating prompt after it, a bad rating by SMS
reply that opens a rectification case, a rating on the visitor's device (channel door), and the
figures that count them."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from evaluation.sms.standin import TwilioStandin
from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.door.conftest import C, MONDAY, Cases
from tests.evaluation.conftest import desk_for, eval_settings, eventually, inbound
from tests.support import AUTH

RESIDENT, RESIDENT_E164 = "13812345678", "+8613812345678"
OTHER = "13812345679"


@pytest.fixture
def standin() -> Iterator[TwilioStandin]:
    s = TwilioStandin()
    with s.serve() as url:
        s.url = url  # type: ignore[attr-defined]
        yield s


async def test_door_sms_and_ratings_through_the_reviews_system(settings: Settings, standin: TwilioStandin) -> None:
    clock = FixedClock(MONDAY)
    settings = eval_settings(settings, standin)
    async with desk_for(settings, clock) as desk:
        cases = Cases(desk.app, desk.client, clock)
        case_id = (await cases.discover(RESIDENT, ["mi-004", "ca-002"]))["case_id"]
        await cases.step(case_id, "review", {"decision": "approve"})
        await cases.book(case_id, f"{C}-v01")
        ahead = await eventually(lambda: _sent(standin, RESIDENT_E164, 1), what="the booking SMS")
        assert "上门帮办" in ahead[0].body and "居民身份证" in ahead[0].body and "社保卡" in ahead[0].body

        clock.advance(3600)
        await cases.step(case_id, "visit", cases.record(), 201)
        clock.advance(301)                                      # QUEUE_REVIEW_SMS_DELAY_S=300
        prompt = (await eventually(lambda: _sent(standin, RESIDENT_E164, 2), what="the rating prompt"))[1]
        assert f"上门帮办（编号{case_id}）" in prompt.body and "Home visit" in prompt.body
        token = re.search(r"/review/([A-Za-z0-9_\-]+)", prompt.body).group(1)    # the web review link works too
        info = await desk.client.get(f"/api/v1/reviews/links/{token}")
        assert info.status_code == 200 and info.json()["number"] == str(case_id), info.text
        # the resident answers 2, then why: a bad review by SMS, and its rectification case
        assert (await desk.sms(inbound("2", "SM" + "d1" * 16, RESIDENT_E164))).status_code == 200
        assert (await desk.sms(inbound("2 态度不好", "SM" + "d2" * 16, RESIDENT_E164))).status_code == 200
        found = (await desk.client.get(f"/api/v1/door/cases/{case_id}", headers=AUTH)).json()
        assert found["rating"]["level"] == 2 and found["rating"]["channel"] == "sms"
        rect = (await desk.client.get(f"/api/v1/rectifications?center={C}", headers=AUTH)).json()["cases"]
        assert [c["staff_id"] for c in rect if c["ticket_id"] == f"{C}-door-{case_id}"] == [f"{C}-v01"]
        # the device may not rate it again
        again = await desk.client.post(f"/api/v1/door/cases/{case_id}/rating", json={"level": 5}, headers=AUTH)
        assert again.status_code == 409 and again.json()["code"] == "already_rated"

        # another case, rated on the visitor's phone right after the visit: the queued prompt is skipped
        other = (await cases.discover(OTHER, ["dpf-001"]))["case_id"]
        await cases.step(other, "review", {"decision": "approve"})
        early = await desk.client.post(f"/api/v1/door/cases/{other}/rating", json={"level": 5}, headers=AUTH)
        assert early.status_code == 409 and early.json()["code"] == "not_visited"
        await cases.book(other, f"{C}-s02")
        clock.advance(86_400)
        await cases.step(other, "visit", cases.record(), 201)
        bad = await desk.client.post(f"/api/v1/door/cases/{other}/rating", json={"level": 1}, headers=AUTH)
        assert bad.status_code == 422                           # a bad rating says why
        rated = await desk.client.post(f"/api/v1/door/cases/{other}/rating", json={"level": 5}, headers=AUTH)
        assert rated.status_code == 201 and rated.json()["channel"] == "door"
        for matter in ("mi-004", "ca-002"):
            await cases.step(case_id, f"approvals/{matter}", {"state": "approved"})
        clock.advance(400)
        changes = await eventually(lambda: _sent(standin, RESIDENT_E164, 4), what="the approval SMS")
        assert "已批准" in changes[-1].body
        assert not standin.to("+86" + OTHER)[1:]               # the phone-rated visit got no prompt

        figures = (await desk.client.get(f"/api/v1/door/figures?center={C}&since=2026-11-01&until=2026-12-31",
                                         headers=AUTH)).json()
        assert figures["satisfaction"] == {"rated": 2, "good": 1, "good_rate": 0.5, "average": 3.5}
        assert figures["by_stage"]["tracking"] >= 2
        assert figures["median_days_to_visit"] is not None and figures["median_days_to_approval"] is not None
        staff = await cases.token("staff", f"{C}-s01")
        assert (await desk.client.get(f"/api/v1/door/figures?center={C}", headers=staff)).status_code == 403
        assert (await desk.client.get("/api/v1/door/figures?since=2026-13-01", headers=AUTH)).status_code == 422
        manager = await cases.token("manager")
        mine = (await desk.client.get("/api/v1/door/figures?since=2026-11-01&until=2026-12-31", headers=manager)).json()
        assert mine["center"] == C and mine["satisfaction"]["rated"] == 2
        other = await cases.token("manager", None, "caojiadu")
        assert (await desk.client.get(f"/api/v1/door/figures?center={C}", headers=other)).status_code == 403


async def _sent(standin: TwilioStandin, number: str, n: int) -> list | None:
    found = standin.to(number)
    return found if len(found) >= n else None

