"""The resident's status page on a phone (390×844), in headless Chromium against a real server
process: it never says two contradicting things (a ticket that is not found is not "reconnecting";
a finished one is not "keep this page open"), and after a finish the status page that the printed
ticket's QR opens offers that ticket's web review link."""
from __future__ import annotations

from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, urlparse

import segno

from tests.browser import SHOTS
from tests.displays.conftest import CENTER, SIZES, Server
from tests.displays.test_device_fit import STAFF, box, finish, inside
from tests.displays.test_pages import issue, open_window, until


async def test_status_page_of_an_unknown_ticket_says_only_that(server: Server, open_page: Any) -> None:
    status = await open_page("status", f"{server.url}/status/{CENTER}-20261201-A999")
    await status.page.wait_for_selector("#error:not([hidden])")
    await status.page.wait_for_timeout(500)   # whatever the socket would say has arrived
    await status.shot("-unknown")
    assert "未找到该号码" in await status.page.text_content("#error")
    assert not await status.page.locator("#live").is_visible()
    assert not await status.page.locator(".hint").is_visible()
    assert not await status.page.locator("#position").is_visible()
    assert "保持" not in await status.page.inner_text("body") and "Reconnecting" not in await status.page.inner_text("body")
    status.assert_clean(expected=("status of 404",))


async def test_finished_ticket_status_page_says_done_and_offers_the_review_link(server: Server, open_page: Any) -> None:
    await open_window(server, "w1", STAFF)
    kiosk = await open_page("kiosk", f"{server.url}/kiosk/{CENTER}?token={await server.token('kiosk')}")
    await kiosk.page.click('[data-matter="hrss-001"]')
    await kiosk.page.click("#issue")
    await kiosk.page.wait_for_selector("#view-ticket:not([hidden])")
    ticket_id = await kiosk.page.get_attribute("#ticket", "data-ticket")
    await until(kiosk.page, "document.querySelector('#t-qr').src.includes('review=')")   # made just after the ticket shows
    qr = urlparse(await kiosk.page.get_attribute("#t-qr", "src"))
    review = parse_qs(qr.query)["review"][0]   # the printed QR opens the status page with the ticket's review link
    await until(kiosk.page, "document.querySelector('#t-qr').complete && document.querySelector('#t-qr').naturalWidth > 0")
    kiosk.assert_clean()

    status = await open_page("status", f"{server.url}/status/{ticket_id}#review={review}")
    await status.page.wait_for_selector("#badge[data-status=waiting]")
    assert await status.page.locator(".hint").is_visible()   # waiting: keep the page open
    assert not await status.page.locator("#review").is_visible()
    await finish(server, {"id": ticket_id})
    await status.page.wait_for_selector("#badge[data-status=finished]")
    await status.page.wait_for_selector("#review:not([hidden])")
    await status.shot("-finished")
    text = await status.page.inner_text("body")
    assert "办结" in text and "保持" not in text and "Keep this page open" not in text
    assert not await status.page.locator("#live").is_visible()
    assert inside(await box(status.page, "#review-link"), SIZES["status"])
    await status.page.click("#review-link")
    await status.page.wait_for_selector("#form:not([hidden])")
    assert urlparse(status.page.url).path == f"/review/{review}"
    assert await status.page.text_content("#number") == ticket_id.rsplit("-", 1)[1]
    await status.page.screenshot(path=str(SHOTS / "status-review.png"))
    status.assert_clean()


async def test_ticket_qr_carries_the_review_link_to_the_status_page(server: Server) -> None:
    ticket = await issue(server)
    token = "A" * 32
    r = await server.http.get(f"/api/v1/tickets/{ticket['id']}/qr.svg", params={"review": token})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    out = BytesIO()
    segno.make(f"{server.url}/status/{ticket['id']}#review={token}", error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False)
    assert r.content == out.getvalue()
    bad = await server.http.get(f"/api/v1/tickets/{ticket['id']}/qr.svg", params={"review": "x<y"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert "review" in bad.json()["detail"]


