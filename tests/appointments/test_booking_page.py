"""The booking page on a phone (390×844) in headless Chromium against a real server process and the
Twilio stand-in: the resident chooses a slot, asks for the code, types the one the stand-in
received, gets the booking code with its QR, finds it again after a reload and cancels it; the
slot's place is free again. Every control is inside the screen, no console errors."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from evaluation.sms.standin import TwilioStandin, standin_env
from queue_server.clock import ShiftedClock
from queue_server.config import Settings
from queue_server.embedded import free_port
from tests.displays.conftest import SIZES
from tests.displays.test_device_fit import box, inside
from tests.residents.conftest import codes_to
from tests.support import AUTH, on_a_service_day, server_process

C = "jingansi"
PHONE = "13812345678"


@pytest.fixture
def phone_settings(settings: Settings) -> Settings:
    return on_a_service_day(settings)


@pytest.fixture
def phone_server(phone_settings: Settings, standin: TwilioStandin) -> Iterator[str]:
    port = free_port()
    env = {"QUEUE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "QUEUE_SMS_POLL_S": "0.1",
           **{k: str(v) for k, v in standin_env(standin, standin.url).items()}}  # type: ignore[attr-defined]
    with server_process(phone_settings, port, extra_env=env) as (url, _proc):
        yield url


async def test_a_phone_books_a_slot_with_the_code_and_cancels_it(phone_server: str, phone_settings: Settings,
                                                                 standin: TwilioStandin, open_page: Any) -> None:
    now = datetime.fromtimestamp(ShiftedClock(phone_settings.clock_offset_ms).now_ms() / 1000, timezone.utc)
    at = (now + timedelta(hours=1)).replace(second=0, microsecond=0)     # 11:00-ish, Shanghai
    async with httpx.AsyncClient(base_url=phone_server, timeout=10) as http:
        r = await http.post(f"/api/v1/centers/{C}/appointment-slots", headers=AUTH, json={
            "queue": "appointment", "starts_at": at.isoformat(), "ends_at": (at + timedelta(minutes=30)).isoformat(),
            "capacity": 2})
        assert r.status_code == 201, r.text
        slot = r.json()
        page = await open_page("book", f"{phone_server}/book/{C}")
        p = page.page
        await p.wait_for_selector(f'.slot[data-slot="{slot["id"]}"]')
        assert "2 left" in await p.text_content(f'.slot[data-slot="{slot["id"]}"]')
        await p.select_option("#matter", "hrss-001")
        await p.click(f'.slot[data-slot="{slot["id"]}"]')
        await p.fill("#phone", PHONE)
        await p.click("#send")
        await p.wait_for_selector("#sent:not([hidden])")
        for _ in range(200):
            if codes_to(standin, PHONE):
                break
            await asyncio.sleep(0.05)
        for selector in ("#matter", "#day", "#phone", "#send", "#code", "#book"):
            assert inside(await box(p, selector), SIZES["book"]), selector
        await p.fill("#code", codes_to(standin, PHONE)[-1])
        await p.click("#book")
        await p.wait_for_selector("#booking:not([hidden])")
        code = (await p.text_content("#b-code")) or ""
        assert len(code) == 8 and "booking=" in p.url
        await p.wait_for_function("() => document.querySelector('#b-qr').complete"
                                  " && document.querySelector('#b-qr').naturalWidth > 0")   # the QR loads after the code shows
        for selector in ("#b-code", "#b-qr"):
            assert inside(await box(p, selector), SIZES["book"]), selector
        await page.shot("-booked")

        await p.reload()
        await p.wait_for_selector("#booking:not([hidden])")
        assert await p.text_content("#b-code") == code
        await p.click("#cancel")
        await p.wait_for_selector('#b-status[data-status="cancelled"]')
        assert (await http.get(f"/api/v1/appointments/{code}")).json()["status"] == "cancelled"
        listed = (await http.get(f"/api/v1/centers/{C}/appointment-slots",
                                 params={"date": at.astimezone(timezone(timedelta(hours=8))).date().isoformat()})).json()
        assert next(s for s in listed["slots"] if s["id"] == slot["id"])["left"] == 2
        page.assert_clean()
