"""The materials of a remote acceptance in Chromium: the assistant's page on the point's 1280×800 tablet
uploads a scan of an item of the called ticket, the clerk's console (1366×768) shows that scan and
rejects it with a reason, and the assistant's page shows the reason live; the assistant then packs the
originals that travel and the receipt with its QR shows; the resident's status page (390×844) shows
where the originals are."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from queue_server.config import Settings
from queue_server.embedded import free_port
from tests.displays.conftest import CENTER, Server
from tests.materials.helpers import png
from tests.support import AUTH, server_process

POINT = f"{CENTER}-sp1"    # demo: remote window r1 serves sp1 all day
CLERK = f"{CENTER}-s02"


@pytest.fixture
async def materials_server(settings: Settings, tmp_path: Path) -> AsyncIterator[Server]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"QUEUE_PUBLIC_BASE_URL": base, "QUEUE_MATERIALS_DIR": str(tmp_path / "scans")}
    with server_process(settings, port, extra_env=env) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            yield Server(url, http, settings)


async def test_a_scan_uploaded_at_the_point_is_rejected_by_the_clerk_and_the_assistant_sees_why(
        materials_server: Server, open_page: Any) -> None:
    server = materials_server
    staff = await open_page("staff", f"{server.url}/staff/{CENTER}/r1?token={await server.token('staff', 'r1', CLERK)}",
                            size="network")
    await staff.page.click("#win-open")
    await staff.page.locator("#win-state.open").wait_for()
    r = await server.http.post("/api/v1/tokens", headers=AUTH,
                               json={"role": "assistant", "center": CENTER, "point": "sp1", "label": "sp1 帮办员"})
    assistant_token = r.json()["token"]
    assistant = await open_page("assistant", f"{server.url}/assistant/{POINT}?token={assistant_token}", size="tablet")
    await assistant.page.locator(".clerk.open[data-window='r1']").wait_for()
    r = await server.http.post(f"/api/v1/points/{POINT}/tickets", json={"matter": "tu-001"},
                               headers={"Authorization": f"Bearer {assistant_token}"})
    assert r.status_code == 201, r.text
    ticket = r.json()

    await staff.page.locator(f"#waiting tr[data-ticket='{ticket['id']}']").wait_for()
    await staff.page.click("#call-next")
    await staff.page.locator(".current-body .number", has_text=ticket["number"]).wait_for()

    # the assistant's page turns to the called ticket's checklist
    await assistant.page.locator("#materials:not([hidden]) .material[data-item='3']").wait_for()
    assert "医疗费用发票" in await assistant.page.locator("#materials-list").inner_text()
    scan = png(42, 30_000)
    await assistant.page.set_input_files(".material[data-item='1'] input.scan-input",
                                         files=[{"name": "id-card.png", "mimeType": "image/png", "buffer": scan}])
    await assistant.page.locator(".material[data-item='1'] .tag.scan-pending").wait_for()
    await assistant.shot("-materials-uploaded")

    # the clerk sees the scan itself (loaded through its signed link) and rejects it
    picture = staff.page.locator("#materials .material[data-item='1'] img.scan-file")
    await picture.wait_for()
    await staff.page.wait_for_function(
        "() => document.querySelector(\"#materials .material[data-item='1'] img.scan-file\")?.naturalWidth > 0")
    await staff.shot("-materials-scan")
    await staff.page.fill(".material[data-item='1'] .reject-reason", "照片反光看不清")
    await staff.page.click(".material[data-item='1'] button.reject")
    await staff.page.locator("#materials .material[data-item='1'] .tag.scan-rejected").wait_for()

    # the assistant sees why, live
    reason = assistant.page.locator(".material[data-item='1'] .reason")
    await reason.wait_for()
    assert "照片反光看不清" in await reason.inner_text()
    await assistant.shot("-materials-rejected")

    # the originals that travel are packed, with a receipt for the resident
    await assistant.page.click("#pack")
    await assistant.page.locator("#receipt-view:not([hidden]) #r-qr[src*='qr.svg']").wait_for()
    assert "医疗费用发票" in await assistant.page.locator("#r-items").inner_text()
    await assistant.shot("-receipt")
    await assistant.page.click("#receipt-done")

    status = await open_page("status", f"{server.url}/status/{ticket['id']}")
    await status.page.locator("#package:not([hidden]) .step.packed").wait_for()
    await status.shot("-package")

    for page in (staff, assistant, status):
        page.assert_clean()
