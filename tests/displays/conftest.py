"""Browser-test plumbing: Debian's Chromium driven by Playwright, a real server process per test,
tokens for each device, and pages that record their console errors and leave screenshots behind."""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from queue_server.config import Settings
from tests.browser import SHOTS
from queue_server.embedded import free_port
from tests.support import AUTH, server_process

CENTER = "jingansi"

SIZES = {
    "display": {"width": 1920, "height": 1080},
    "screen": {"width": 1280, "height": 720},
    "tablet": {"width": 1280, "height": 800},
    "kiosk": {"width": 1080, "height": 1920},
    "service_point": {"width": 1920, "height": 1080},
    "status": {"width": 390, "height": 844},
    "staff": {"width": 1920, "height": 1080},
    "network": {"width": 1366, "height": 768},     # a manager's desk
    "point": {"width": 1920, "height": 1080},       # a service point's notice screen
    "assistant": {"width": 1920, "height": 1080},   # the operator half of a point's dual-screen all-in-one
    "door": {"width": 1366, "height": 768},         # the center's door-to-door case board
    "visit": {"width": 390, "height": 844},         # the visiting staff's phone
    "clerk monitor": {"width": 1366, "height": 768},   # log-in and the accounts admin page at a desk
    "book": {"width": 390, "height": 844},          # a resident's phone
    "appointments": {"width": 1366, "height": 768},  # a manager's desk
    "audit": {"width": 1366, "height": 768},        # an auditor's or manager's desk monitor
}


@dataclass
class Server:
    url: str
    http: httpx.AsyncClient
    settings: Settings

    async def token(self, kind: str, window: str | None = None, staff: str | None = None) -> str:
        """A device token (kind display/screen/tablet/kiosk) or, with ``staff``, a staff token."""
        body: dict[str, Any] = {"center": CENTER, "window": window, "label": f"test {kind}"}
        if staff:
            body.update(role="staff", staff_id=staff)
        else:
            body.update(role="device", device_kind=kind)
        r = await self.http.post("/api/v1/tokens", json=body, headers=AUTH)
        assert r.status_code == 201, r.text
        return r.json()["token"]

    async def act(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        r = await self.http.request(method, path, json=body if body is not None else {}, headers=AUTH)
        assert r.status_code < 300, r.text
        return r


@pytest.fixture
def server_url(settings: Settings) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with server_process(settings, port, extra_env={"QUEUE_PUBLIC_BASE_URL": base}) as (url, _proc):
        yield url


@pytest.fixture
async def server(server_url: str, settings: Settings) -> AsyncIterator[Server]:
    async with httpx.AsyncClient(base_url=server_url, timeout=10) as http:
        yield Server(server_url, http, settings)



@dataclass
class Page:
    """A page of one browser context with everything it printed as an error."""
    page: Any
    context: Any
    name: str
    errors: list[str]

    async def shot(self, suffix: str = "") -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(SHOTS / f"{self.name}{suffix}.png"))

    def assert_clean(self, expected: tuple[str, ...] = ()) -> None:
        """No console error but those the test provoked on purpose (Chromium logs every 4xx fetch)."""
        unexpected = [e for e in self.errors if not any(x in e for x in expected)]
        assert not unexpected, f"{self.name}: console errors {unexpected}"


async def new_page(browser: Any, contexts: list[Any], name: str, url: str, size: str | None = None,
                   **context_options: Any) -> Page:
    """A page of its own context (kept in ``contexts`` to close) at a device's size, in Shanghai time,
    its console errors collected."""
    context = await browser.new_context(viewport=SIZES[size or name], locale="zh-CN",
                                        timezone_id="Asia/Shanghai", **context_options)
    contexts.append(context)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    await page.goto(url)
    return Page(page, context, name, errors)


@pytest.fixture
async def open_page(browser: Any) -> AsyncIterator[Any]:
    contexts: list[Any] = []

    async def opener(name: str, url: str, size: str | None = None, **context_options: Any) -> Page:
        return await new_page(browser, contexts, name, url, size, **context_options)

    yield opener
    for c in contexts:
        await c.close()
