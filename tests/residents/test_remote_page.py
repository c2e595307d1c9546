"""The remote ticket page on a phone (390×844) in headless Chromium against a real server process
and the Twilio stand-in: the resident asks for a code, types the one the stand-in received, lands on
the ticket's status page, sees 快到您了 at the threshold and the window when called; the phone got
exactly the code, the "turn is near" and the "called" SMS, in that order."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from evaluation.sms.standin import TwilioStandin, standin_env
from queue_server.config import Settings
from queue_server.embedded import free_port
from tests.displays.conftest import SIZES, open_page  # noqa: F401 (fixture)
from tests.displays.test_device_fit import box, inside
from tests.displays.test_pages import until
from tests.evaluation.conftest import standin  # noqa: F401 (fixture)
from tests.residents.conftest import codes_to
from tests.support import AUTH, on_a_service_day, server_process

C = "jingansi"
PHONE = "13812345678"
PHONE_E164 = "+8613812345678"


@pytest.fixture
def phone_server(settings: Settings, standin: TwilioStandin) -> Iterator[str]:  # noqa: F811
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"QUEUE_PUBLIC_BASE_URL": base, "QUEUE_SMS_POLL_S": "0.1", "QUEUE_RESIDENTS_CONSUMER_BLOCK_MS": "100",
           **{k: str(v) for k, v in standin_env(standin, standin.url).items()}}  # type: ignore[attr-defined]
    with server_process(on_a_service_day(settings), port, extra_env=env) as (url, _proc):
        yield url


def kinds(standin: TwilioStandin) -> list[str]:  # noqa: F811
    return ["near" if "快到您了" in m.body else "code" if "验证码" in m.body else "called" if "办理" in m.body else "?"
            for m in standin.to(PHONE_E164)]


async def eventually_sms(standin: TwilioStandin, n: int) -> None:  # noqa: F811
    for _ in range(200):
        if len(standin.to(PHONE_E164)) >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {n} SMS, got {kinds(standin)}")


async def test_a_phone_takes_a_remote_ticket_and_follows_it_to_called(phone_server: str, standin: TwilioStandin,  # noqa: F811
                                                                      open_page: Any) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=phone_server, timeout=10) as http:
        for _ in range(4):
            r = await http.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}, headers=AUTH)
            assert r.status_code == 201, r.text
        page = await open_page("remote", f"{phone_server}/remote?center={C}&matter=hrss-001", size="status")
        p = page.page
        await until(p, f"document.querySelector('#center').value === '{C}' && document.querySelector('#matter').value === 'hrss-001'")
        await p.fill("#phone", PHONE)
        await p.click("#send")
        await p.wait_for_selector("#sent:not([hidden])")
        assert "138****5678" in await p.text_content("#sent")
        await eventually_sms(standin, 1)
        for selector in ("#phone", "#send", "#code", "#take"):
            assert inside(await box(p, selector), SIZES["status"]), selector
        await page.shot("-code-sent")
        await p.fill("#code", codes_to(standin, PHONE)[-1])
        await p.click("#take")
        await p.wait_for_url("**/status/**")
        await p.wait_for_selector("#badge[data-status=waiting]")
        ticket_id = p.url.split("/status/")[1].split("#")[0]
        assert "#token=" in p.url
        await until(p, "document.querySelector('#ahead').textContent.startsWith('4')")
        assert await p.locator("#cancel").is_visible() and not await p.locator("#near").is_visible()

        r = await http.post(f"/api/v1/centers/{C}/windows/w1/open", json={"staff_id": f"{C}-s01"}, headers=AUTH)
        assert r.status_code == 200, r.text
        first = (await http.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH)).json()["ticket"]
        for action in ("start", "finish"):
            assert (await http.post(f"/api/v1/tickets/{first['id']}/{action}", headers=AUTH)).status_code == 200
        await p.wait_for_selector("#near:not([hidden])")
        assert "还有3位" in await p.text_content("#near") and "3 ahead" in await p.text_content("#near")
        await page.shot("-near")
        await eventually_sms(standin, 2)

        r = await http.post(f"/api/v1/centers/{C}/windows/w1/call-next", json={"ticket": ticket_id, "reason": "test"},
                            headers=AUTH)
        assert r.status_code == 200, r.text
        await p.wait_for_selector("#badge[data-status=called]")
        assert await p.locator("#called").is_visible() and not await p.locator("#cancel-box").is_visible()
        assert "1号窗口" in await p.text_content("#called-window")
        await page.shot("-called")
        await eventually_sms(standin, 3)
        await asyncio.sleep(0.5)
        assert kinds(standin) == ["code", "near", "called"]
        page.assert_clean()


async def test_the_lobby_kiosk_checks_a_remote_ticket_in(phone_server: str, standin: TwilioStandin,  # noqa: F811
                                                         open_page: Any) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=phone_server, timeout=10) as http:
        assert (await http.post("/api/v1/residents/codes", json={"center": C, "phone": PHONE})).status_code == 202
        await eventually_sms(standin, 1)
        r = await http.post("/api/v1/residents/tickets",
                            json={"center": C, "matter": "hrss-001", "phone": PHONE, "code": codes_to(standin, PHONE)[-1]})
        assert r.status_code == 201, r.text
        ticket = r.json()
        token = (await http.post("/api/v1/tokens", json={"role": "device", "center": C, "device_kind": "kiosk",
                                                          "label": "lobby kiosk"}, headers=AUTH)).json()["token"]
        kiosk = await open_page("kiosk", f"{phone_server}/kiosk/{C}?token={token}")
        p = kiosk.page
        await p.wait_for_selector("#checkin-open:not([hidden])")
        assert inside(await box(p, "#checkin-open"), SIZES["kiosk"])
        await p.click("#checkin-open")
        for key in "A9":
            await p.click(f'#checkin-keypad [data-key="{key}"]')
        await p.click("#checkin-go")                                  # A009: no such ticket
        await p.wait_for_selector("#checkin-result.bad:not([hidden])")
        await p.click('#checkin-keypad [data-key="✕"]')
        for key in ticket["number"]:
            await p.click(f'#checkin-keypad [data-key="{key}"]')
        await p.click("#checkin-go")
        await p.wait_for_selector("#checkin-result.ok:not([hidden])")
        assert ticket["number"] in await p.text_content("#checkin-result")
        for selector in ("#checkin-ticket", "#checkin-go", "#checkin-back"):
            assert inside(await box(p, selector), SIZES["kiosk"]), selector
        await kiosk.shot("-checked-in")
        assert (await http.get(f"/api/v1/tickets/{ticket['id']}")).json()["present_at"]
        kiosk.assert_clean(expected=("status of 404",))


async def test_the_clerk_checks_in_a_remote_ticket_at_the_window(phone_server: str, standin: TwilioStandin,  # noqa: F811
                                                                 open_page: Any) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=phone_server, timeout=10) as http:
        assert (await http.post("/api/v1/residents/codes", json={"center": C, "phone": PHONE})).status_code == 202
        await eventually_sms(standin, 1)
        r = await http.post("/api/v1/residents/tickets",
                            json={"center": C, "matter": "hrss-001", "phone": PHONE, "code": codes_to(standin, PHONE)[-1]})
        ticket = r.json()
        token = (await http.post("/api/v1/tokens", json={"role": "staff", "center": C, "window": "w1",
                                                          "staff_id": f"{C}-s01"}, headers=AUTH)).json()["token"]
        assert (await http.post(f"/api/v1/centers/{C}/windows/w1/open", json={"staff_id": f"{C}-s01"},
                                headers=AUTH)).status_code == 200
        r = await http.post(f"/api/v1/centers/{C}/windows/w1/call-next", json={"ticket": ticket["id"], "reason": "test"},
                            headers=AUTH)
        assert r.status_code == 200, r.text
        staff = await open_page("staff", f"{phone_server}/staff/{C}/w1?token={token}", size="network")   # 1366×768
        p = staff.page
        await p.wait_for_selector("#check-in")
        assert "未签到" in await p.text_content("#current")
        assert inside(await box(p, "#check-in"), SIZES["network"])
        body, actions = await box(p, "#current"), await box(p, "#ticket-actions")
        assert body["y"] + body["height"] <= actions["y"] + 1      # the current ticket's box holds it all
        for selector in ("#current .number", "#current .status", "#current .meta"):
            b = await box(p, selector)
            assert body["y"] - 1 <= b["y"] and b["y"] + b["height"] <= body["y"] + body["height"] + 1, selector
        await staff.shot("-not-checked-in")
        await p.click("#check-in")
        await p.wait_for_selector("#current .tag.present")
        assert not await p.locator("#check-in").count()
        await staff.shot("-checked-in")
        assert (await http.get(f"/api/v1/tickets/{ticket['id']}")).json()["present_at"]
        staff.assert_clean()
