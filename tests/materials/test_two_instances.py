"""Materials across two server processes on the same Redis and PostgreSQL: a scan uploaded through one
reaches the window's clerk and the point's assistant on the other, live; the signed link one instance
gives opens the file on the other (they share the key), and a review there reaches the first's socket."""
from __future__ import annotations

from pathlib import Path

import httpx

from queue_server.config import Settings
from tests.materials.helpers import C, SP1, called_ticket, png, upload
from tests.realtime.live import open_live, receive
from tests.support import server_process


async def _next(ws, kind: str) -> dict:  # type: ignore[no-untyped-def]
    while (msg := await receive(ws))["type"] != kind:
        pass
    return msg


async def test_a_scan_crosses_instances(settings: Settings, tmp_path: Path) -> None:
    env = {"QUEUE_MATERIALS_DIR": str(tmp_path)}        # one store both instances reach (a shared disk or bucket)
    with server_process(settings, extra_env=env) as (one, _), server_process(settings, extra_env=env) as (two, _):
        async with httpx.AsyncClient(base_url=one) as first, httpx.AsyncClient(base_url=two) as second:
            a = await called_ticket(first)
            clerk_token = a.clerk["Authorization"][7:]
            assistant_token = a.assistant["Authorization"][7:]
            async with await open_live(two, f"/ws/centers/{C}/windows/r1/staff", token=clerk_token) as clerk_ws, \
                    await open_live(one, f"/ws/points/{SP1}/assistant", token=assistant_token) as point_ws:
                await _next(clerk_ws, "snapshot")
                await _next(point_ws, "snapshot")
                body = png(77, 3000)
                scan = (await upload(first, a, 1, body)).json()
                assert (await _next(clerk_ws, "material.uploaded"))["scan"]["id"] == scan["id"]
                checklist = (await second.get(f"/api/v1/tickets/{a.ticket['id']}/materials", headers=a.clerk)).json()
                link = checklist["items"][0]["scans"][0]["url"]
                assert (await second.get(link)).content == body
                assert (await first.get(scan["url"])).content == body
                r = await second.post(f"/api/v1/materials/scans/{scan['id']}/review",
                                      json={"decision": "rejected", "reason": "缺页 a page is missing"}, headers=a.clerk)
                assert r.status_code == 200, r.text
                seen = await _next(point_ws, "material.reviewed")
                assert seen["scan"]["reason"] == "缺页 a page is missing"
