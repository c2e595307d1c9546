"""The appointment and whole-city pages in headless Chromium against a real server process, each at
the size it is used at: the kiosk (1080×1920) shows the nearby centers for a whole-city matter and
checks a booking in by its code into a printed appointment ticket; the status page (390×844) shows
the nearby centers while waiting; the managers' slots page (1366×768) adds a slot and changes its
capacity, never below the places taken. No console errors but those provoked."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from appointments import store
from queue_server.clock import ShiftedClock
from queue_server.config import Settings
from queue_server.record.personal import PersonalData
from tests.displays.conftest import CENTER, SIZES, Server
from tests.displays.test_device_fit import inside, no_document_scroll
from tests.support import AUTH, on_a_service_day

WHOLE_CITY = "hrss-001"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The server's clock at 10:00 of today's Shanghai date: its slots, an hour or two ahead, end
    before the center closes that day however late the tests run (they failed from 22:00 on)."""
    return on_a_service_day(settings)


def server_now(server: Server) -> datetime:
    return datetime.fromtimestamp(ShiftedClock(server.settings.clock_offset_ms).now_ms() / 1000, timezone.utc)


async def slot(server: Server, starts_in: timedelta, capacity: int = 3) -> dict[str, Any]:
    at = (server_now(server) + starts_in).replace(microsecond=0)
    r = await server.http.post(f"/api/v1/centers/{CENTER}/appointment-slots", headers=AUTH, json={
        "queue": "appointment", "starts_at": at.isoformat(), "ends_at": (at + timedelta(minutes=30)).isoformat(),
        "capacity": capacity})
    assert r.status_code == 201, r.text
    return r.json()


async def booking(server: Server, slot_id: int, phone: str = "13912345678") -> dict[str, Any]:
    """A booking of a verified number, written as the API writes it."""
    personal = PersonalData.from_settings(server.settings)
    pool = await asyncpg.create_pool(server.settings.database_url, min_size=1, max_size=1)
    try:
        return await store.book(pool, slot_id, WHOLE_CITY, personal.seal(phone), personal.lookup(phone), server_now(server))
    finally:
        await pool.close()


async def test_kiosk_shows_nearby_centers_and_checks_a_booking_in(server: Server, open_page: Any) -> None:
    kiosk = await open_page("kiosk", f"{server.url}/kiosk/{CENTER}?token={await server.token('kiosk')}")
    await kiosk.page.click(f'.matter[data-matter="{WHOLE_CITY}"]')
    await kiosk.page.wait_for_selector("#nearby:not([hidden]) li")
    rows = kiosk.page.locator("#nearby li")
    assert await rows.count() == 3
    assert await rows.first.get_attribute("data-center") == CENTER      # nobody waits anywhere: the nearest wins
    assert "本中心" in await rows.first.inner_text()
    assert inside(await kiosk.page.locator("#nearby").bounding_box(), SIZES["kiosk"])
    await kiosk.page.click("#cancel")

    b = await booking(server, (await slot(server, timedelta(minutes=10)))["id"])
    await kiosk.page.click("#appt-open")
    await kiosk.page.fill("#appt-code", "NOPE2345")
    await kiosk.page.press("#appt-code", "Enter")
    await kiosk.page.wait_for_selector("#appt-error:not([hidden])")
    await kiosk.page.fill("#appt-code", b["code"].lower())
    await kiosk.page.press("#appt-code", "Enter")                     # a scanner types the code and Enter
    await kiosk.page.wait_for_selector("#view-ticket:not([hidden])")
    number = await kiosk.page.text_content("#t-number")
    assert number and number.startswith("V")
    seen = (await server.http.get(f"/api/v1/appointments/{b['code']}")).json()
    assert seen["status"] == "checked_in" and seen["ticket_id"].endswith(number)
    await kiosk.shot("-checked-in")
    kiosk.assert_clean(expected=("404",))


async def test_status_page_shows_nearby_centers_while_waiting(server: Server, open_page: Any) -> None:
    r = await server.http.post(f"/api/v1/centers/{CENTER}/tickets", json={"matter": WHOLE_CITY}, headers=AUTH)
    ticket = r.json()
    status = await open_page("status", f"{server.url}/status/{ticket['id']}")
    await status.page.wait_for_selector("#nearby:not([hidden]) li")
    assert await status.page.locator("#nearby li").count() == 3
    assert await no_document_scroll(status.page) or (await status.page.evaluate("document.documentElement.scrollWidth")) <= 390
    box = await status.page.locator("#nearby").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= SIZES["status"]["width"]
    await status.shot("-nearby")
    status.assert_clean()


async def test_managers_add_a_slot_and_change_its_capacity(server: Server, open_page: Any) -> None:
    existing = await slot(server, timedelta(minutes=90), capacity=2)
    await booking(server, existing["id"])
    r = await server.http.post("/api/v1/tokens", json={"role": "manager", "center": CENTER, "label": "test manager"}, headers=AUTH)
    token = r.json()["token"]
    page = await open_page("appointments", f"{server.url}/appointments/{CENTER}?token={token}")
    await page.page.wait_for_selector(f'tr[data-slot="{existing["id"]}"]')
    later = server_now(server).astimezone(timezone(timedelta(hours=8))) + timedelta(hours=2)
    if later.date() != server_now(server).astimezone(timezone(timedelta(hours=8))).date():
        later = later.replace(hour=23, minute=0)
    start, end = later.strftime("%H:%M"), (later + timedelta(minutes=20)).strftime("%H:%M")
    await page.page.fill("#start", start)
    await page.page.fill("#end", end if end > start else "23:59")
    await page.page.fill("#capacity", "7")
    await page.page.click("#add")
    await page.page.wait_for_selector("#rows tr:nth-child(2)")
    row = page.page.locator(f'tr[data-slot="{existing["id"]}"]')
    await row.locator("input").fill("0")
    await row.locator("button").click()
    await page.page.wait_for_selector("#error:not([hidden])")          # 422: capacity below 1
    await row.locator("input").fill("5")
    await row.locator("button").click()
    await page.page.wait_for_selector(f'tr[data-slot="{existing["id"]}"] td:nth-child(4) >> text="4"')
    assert await no_document_scroll(page.page)
    await page.shot("-slots")
    page.assert_clean(expected=("422",))
