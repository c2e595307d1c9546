"""The door-to-door pages in Chromium against a real server: a whole case with the visit recorded on
the visiting staff's phone (390×844) — reloaded in the middle, submitted while offline, sent when
back online, recorded once — and the resident's rating; then the case board at a manager's desk
(1366×768): overdue first, a case picked, reviewed, and its history."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from tests.displays.conftest import CENTER, SIZES, Server
from tests.support import AUTH

PHONE = SIZES["visit"]
DESK = SIZES["door"]
OFFLINE = ("ERR_INTERNET_DISCONNECTED", "Failed to fetch")


async def _case_to_visit(server: Server) -> int:
    body = {"resident_name": "孙阿婆", "phone": "13712345001", "address": "静安区南京西路1号", "matters": ["mi-004"],
            "reason": "elderly", "source": "committee"}
    case_id = (await server.act("POST", f"/api/v1/centers/{CENTER}/door/cases", body)).json()["case_id"]
    await server.act("POST", f"/api/v1/door/cases/{case_id}/review", {"decision": "approve"})
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    await server.act("POST", f"/api/v1/door/cases/{case_id}/schedule",
                     {"visitor": f"{CENTER}-s01", "date": tomorrow.isoformat(), "slot": "am"})
    return case_id


async def _fits(page: Any, size: dict[str, int]) -> None:
    width, height = await page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert width <= size["width"], width
    if size is DESK:
        assert height <= size["height"], height


async def test_a_visit_recorded_on_a_phone_survives_a_reload_and_an_outage(server: Server, open_page: Any) -> None:
    case_id = await _case_to_visit(server)
    token = await server.token("staff", staff=f"{CENTER}-s01")
    visit = await open_page("visit", f"{server.url}/door/{CENTER}/visit?visitor={CENTER}-s01&token={token}")
    page = visit.page
    await page.click(f"button.booking[data-case='{case_id}']")
    await page.locator("#resident").wait_for()
    assert "137****5001" in await page.locator("#resident").inner_text()
    checklist = await page.locator("#materials").inner_text()
    assert "居民身份证" in checklist and "原件" in checklist and "社保卡" in checklist   # the materials catalog's
    await page.click("#arrive")
    await page.locator("#materials input").first.check()
    await page.click("#accept-yes")
    await page.locator("#pad").scroll_into_view_if_needed()
    pad = await page.locator("#pad").bounding_box()
    assert pad is not None
    await page.mouse.move(pad["x"] + 20, pad["y"] + 30)
    await page.mouse.down()
    for i in range(1, 12):
        await page.mouse.move(pad["x"] + 20 + i * 25, pad["y"] + 30 + (i % 3) * 20)
    await page.mouse.up()
    await _fits(page, PHONE)
    await visit.shot("-door-visit")

    await page.reload()                                   # in the middle of the record: nothing lost
    await page.locator("#arrived").wait_for()
    assert await page.locator("#materials input").first.is_checked()
    assert await page.locator("#accept-yes.selected").count() == 1
    kept = await page.evaluate(f"JSON.parse(localStorage.getItem('qs.door.visit:{CENTER}:{case_id}'))")
    assert kept["signature"].startswith("data:image/png;base64,") and kept["arrived_at"] > 0

    await visit.context.set_offline(True)                 # the connection drops as it is sent
    await page.click("#send")
    await page.locator("#pending").wait_for()
    assert (await server.http.get(f"/api/v1/door/cases/{case_id}", headers=AUTH)).json()["stage"] == "scheduled"
    await visit.context.set_offline(False)
    await page.evaluate("window.dispatchEvent(new Event('online'))")
    await page.locator("#sent").wait_for()
    # the same record again, as a phone whose answer was lost would send it: taken once
    again = await server.http.post(f"/api/v1/door/cases/{case_id}/visit", headers=AUTH, json={
        "record_key": kept["record_key"], "arrived_at": kept["arrived_at"], "materials": [{"name": m["name"], "collected": m["collected"]} for m in kept["materials"]],
        "accepted": True, "signature": kept["signature"]})
    assert again.status_code == 200 and again.json()["new"] is False
    await page.reload()
    await page.locator("#bookings").wait_for()

    found = (await server.http.get(f"/api/v1/door/cases/{case_id}", headers=AUTH)).json()
    assert found["stage"] == "tracking"
    assert [h["action"] for h in found["history"]].count("accept") == 1
    recorded = [v for v in found["visits"] if v["recorded_at"]]
    assert len(recorded) == 1 and recorded[0]["has_signature"] and recorded[0]["materials"][0]["collected"]
    conn = await asyncpg.connect(server.settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM door_visits WHERE case_id = $1 AND recorded_at IS NOT NULL",
                                   case_id) == 1
    finally:
        await conn.close()

    visit.assert_clean(OFFLINE)


async def test_the_rating_on_the_phone_after_the_visit(server: Server, open_page: Any) -> None:
    case_id = await _case_to_visit(server)
    token = await server.token("staff", staff=f"{CENTER}-s01")
    visit = await open_page("visit", f"{server.url}/door/{CENTER}/visit?visitor={CENTER}-s01&token={token}")
    page = visit.page
    await page.click(f"button.booking[data-case='{case_id}']")
    await page.click("#arrive")
    await page.click("#accept-yes")
    await page.locator("#pad").scroll_into_view_if_needed()
    pad = await page.locator("#pad").bounding_box()
    assert pad is not None
    await page.mouse.move(pad["x"] + 40, pad["y"] + 40)
    await page.mouse.down()
    await page.mouse.move(pad["x"] + 200, pad["y"] + 90)
    await page.mouse.up()
    await page.click("#send")
    await page.locator("#levels button[data-level='2']").wait_for()
    await visit.shot("-door-rate")
    await page.click("#levels button[data-level='2']")          # a bad rating asks why
    await page.click("#levels button[data-reason='attitude']")
    await page.locator("#rated").wait_for()
    found = (await server.http.get(f"/api/v1/door/cases/{case_id}", headers=AUTH)).json()
    assert found["rating"]["level"] == 2 and found["rating"]["channel"] == "door"
    cases = (await server.http.get(f"/api/v1/rectifications?center={CENTER}", headers=AUTH)).json()
    assert any(c["ticket_id"] == f"{CENTER}-door-{case_id}" for c in cases["cases"])
    await _fits(page, PHONE)
    font = await page.evaluate("parseFloat(getComputedStyle(document.querySelector('.levels .btn')).fontSize)")
    assert font >= 18
    visit.assert_clean()


async def test_the_case_board_shows_overdue_first_and_takes_a_case_through_review(server: Server,
                                                                                 open_page: Any) -> None:
    r = await server.http.post("/api/v1/tokens", json={"role": "manager", "center": CENTER, "label": "站长"},
                               headers=AUTH)
    token = r.json()["token"]
    board = await open_page("door", f"{server.url}/door/{CENTER}?token={token}")
    page = board.page
    await page.locator("#cases tr").first.wait_for()
    first = page.locator("#cases tr").first
    assert "overdue" in (await first.get_attribute("class") or "")
    assert "陈志强" in await first.inner_text()            # the demo's overdue approval
    assert await page.locator(".figure[data-figure='overdue'] .v").inner_text() != "0"

    await page.click("#new-case")
    await page.fill("input[name=resident_name]", "钱大爷")
    await page.fill("input[name=phone]", "13712345002")
    await page.fill("input[name=address]", "静安区江宁路2号")
    await page.select_option("#matters", ["ca-002"])
    await page.select_option("#reason", "limited_mobility")
    await page.select_option("#source", "hotline")
    await page.click("#case-form button[type=submit]")
    await page.locator("#notice").wait_for()
    await page.locator(".case-panel button.approve").click()
    await page.locator(".case-panel .stage.approved").wait_for()
    assert "null" not in await page.locator(".case-panel").inner_text()
    history = page.locator(".case-panel .history li")
    assert await history.count() == 2
    assert "审核通过" in await history.nth(1).inner_text() and "manager:jingansi" in await history.nth(1).inner_text()

    # book the visit from the panel, record it (the phone's part), then track the approval and close
    case_id = int(await page.locator("#cases tr.selected").get_attribute("data-case") or 0)
    tomorrow = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()
    await page.select_option(".case-panel select.visitor", f"{CENTER}-v01")
    await page.fill(".case-panel input.day", tomorrow)
    await page.select_option(".case-panel select.slot", "pm")
    await page.locator(".case-panel button.book").click()
    await page.locator(".case-panel .stage.scheduled").wait_for()
    assert "下午" in await page.locator(".case-panel .booking-line").inner_text()
    await server.act("POST", f"/api/v1/door/cases/{case_id}/visit", {
        "record_key": "board-test-visit-0001", "arrived_at": int(datetime.now().timestamp() * 1000),
        "materials": [{"name": "居民身份证", "collected": True}], "accepted": True})
    await page.reload()
    await page.locator(f"#cases tr[data-case='{case_id}']").click()
    await page.locator(".case-panel .stage.tracking").wait_for()
    await page.locator(".case-panel button.close").click()          # the approval is still pending: refused
    await page.locator("#error").wait_for()
    assert "approval" in (await page.locator("#error").inner_text()).lower()
    await page.select_option(".case-panel select.approval", "approved")
    await page.locator(".case-panel .actions button.blue").first.click()
    await page.locator(".case-panel .history li[data-action='approval']").wait_for()
    await page.locator(".case-panel button.close").click()
    await page.locator(".case-panel .stage.closed").wait_for()
    actions = await page.locator(".case-panel .history li").evaluate_all("els => els.map(e => e.dataset.action)")
    assert actions == ["discover", "approve", "schedule", "accept", "approval", "close"]

    await page.select_option("#f-stage", "tracking")
    for _ in range(50):                                # the filtered list replaces the whole one
        rows = await page.locator("#cases tr").all_inner_texts()
        if rows and all("审批跟踪" in r for r in rows):
            break
        await page.wait_for_timeout(100)
    assert rows and all("审批跟踪" in r for r in rows), rows
    await _fits(page, DESK)
    for sel in ["#new-case", ".case-panel", "#cases tr"]:
        b = await page.locator(sel).first.bounding_box()
        assert b is not None and b["x"] + b["width"] <= DESK["width"] and b["y"] <= DESK["height"], sel
    font = await page.evaluate("parseFloat(getComputedStyle(document.querySelector('.case-table td')).fontSize)")
    assert font >= 18
    await board.shot("-door-board")
    board.assert_clean(("409",))
