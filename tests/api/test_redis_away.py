"""Redis killed and restarted under the server: every request in between answers 503 with
Retry-After (never a 500 "Internal error"), and the queue works again once Redis is back."""
from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import httpx

from queue_server.config import Settings
from tests.faults.services import OwnRedis, scratch_folder
from tests.realtime.live import C, Api
from tests.support import server_process


async def test_requests_while_redis_restarts_answer_503_with_retry_after(settings: Settings) -> None:
    with scratch_folder() as folder:
        redis = OwnRedis(folder / "redis")
        redis.start()
        try:
            with server_process(dataclasses.replace(settings, redis_url=redis.url)) as (url, _):
                async with Api(url) as api:
                    await api.open_window("w1")
                    kept = (await api.issue())["id"]
                    await asyncio.to_thread(redis.kill)
                    requests = [("POST", f"/api/v1/centers/{C}/tickets", {"matter": "hrss-001"}),
                                ("POST", f"/api/v1/centers/{C}/windows/w1/call-next", {}),
                                ("GET", f"/api/v1/tickets/{kept}", None),
                                ("POST", f"/api/v1/tickets/{kept}/cancel", {}),
                                ("GET", f"/api/v1/centers/{C}/queue", None)]
                    for method, path, body in requests * 3:
                        r = await api.http.request(method, path, json=body)
                        assert r.status_code == 503, (path, r.status_code, r.text)
                        assert int(r.headers["retry-after"]) >= 1
                        assert r.headers["content-type"] == "application/problem+json"
                    await asyncio.to_thread(redis.restart)
                    deadline = time.monotonic() + 60
                    while (r := await api.http.get(f"/api/v1/tickets/{kept}")).status_code != 200:
                        assert r.status_code == 503 and time.monotonic() < deadline, r.text
                        await asyncio.sleep(float(r.headers["retry-after"]))
                    assert r.json()["status"] == "waiting"   # the append-only file kept it
                    while (r := await api.http.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"})
                           ).status_code != 201:
                        assert r.status_code == 503 and time.monotonic() < deadline, r.text
                        await asyncio.sleep(float(r.headers["retry-after"]))
        finally:
            redis.close()


async def test_a_page_waits_out_a_redis_restart_calmly(settings: Settings, browser: Any) -> None:
    """The resident's status page opened while Redis restarts: api.js retries the 503s as told, shows
    "正在重新连接 Reconnecting" while it lasts, no error, and the ticket once Redis is back."""
    with scratch_folder() as folder:
        redis = OwnRedis(folder / "redis")
        redis.start()
        try:
            with server_process(dataclasses.replace(settings, redis_url=redis.url)) as (url, _):
                async with Api(url) as api:
                    ticket = await api.issue()
                await asyncio.to_thread(redis.kill)
                context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
                try:
                    page = await context.new_page()
                    await page.goto(f"{url}/status/{ticket['id']}")
                    notice = await page.wait_for_selector(".reconnecting", timeout=30_000)
                    assert "正在重新连接" in await notice.text_content() and "Reconnecting" in await notice.text_content()
                    assert await page.is_hidden("#error")
                    await asyncio.to_thread(redis.restart)
                    await page.wait_for_selector(f'#number:text-is("{ticket["number"]}")', timeout=30_000)
                    await page.wait_for_selector(".reconnecting", state="detached", timeout=30_000)
                    assert await page.is_hidden("#error")
                finally:
                    await context.close()
        finally:
            redis.close()
