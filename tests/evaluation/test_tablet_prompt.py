"""End to end on a real server process: finishing a ticket prompts the tablet of that window (over
its websocket) and no other tablet, and that tablet's rating of the prompted ticket is taken."""
from __future__ import annotations

import httpx

from queue_server.config import Settings
from tests.realtime.live import C, Api, open_live, receive, silent
from tests.support import server_process


async def test_the_finishing_windows_tablet_is_prompted_and_rates(settings: Settings) -> None:
    with server_process(settings) as (url, _):
        async with Api(url) as api:
            await api.open_window("w1")
            await api.open_window("w2")
            tablet_w1 = await api.token("device", window="w1", device="tablet")
            tablet_w2 = await api.token("device", window="w2", device="tablet")
            w1 = await open_live(url, f"/ws/centers/{C}/windows/w1/tablet", token=tablet_w1)
            w2 = await open_live(url, f"/ws/centers/{C}/windows/w2/tablet", token=tablet_w2)
            try:
                assert (await receive(w1))["type"] == "snapshot" and (await receive(w2))["type"] == "snapshot"
                issued = await api.issue(phone="13812345678")
                tid = await api.serve("w1")
                assert tid == issued["id"]
                prompt = None
                while prompt is None:
                    msg = await receive(w1)
                    if msg["type"] == "ticket.finished":
                        prompt = msg
                assert prompt["ticket"]["id"] == tid and "phone" not in prompt["ticket"]
                assert await silent(w2)  # the other window's tablet saw nothing of it
                async with httpx.AsyncClient(base_url=url) as http:
                    body = {"ticket_id": tid, "level": 5, "reasons": [], "comment": "", "channel": "tablet"}
                    other = await http.post("/api/v1/reviews", json=body, headers={"Authorization": f"Bearer {tablet_w2}"})
                    assert other.status_code == 403
                    taken = await http.post("/api/v1/reviews", json=body, headers={"Authorization": f"Bearer {tablet_w1}"})
                    assert taken.status_code == 201, taken.text
                    assert (taken.json()["staff_id"], taken.json()["window"]) == (f"{C}-s01", "w1")
            finally:
                await w1.close()
                await w2.close()
