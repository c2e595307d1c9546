"""The resident's status page socket: its ticket's position, again whenever it changes, up to the
call (with the window's name); nothing when an event changes nothing for it; never the phone."""
from __future__ import annotations

from queue_server.config import Settings
from tests.realtime.live import C, Api, open_live, receive, silent
from tests.support import server_process


async def test_position_follows_the_ticket_to_its_call(settings: Settings) -> None:
    with server_process(settings) as (url, _):
        async with Api(url) as api:
            await api.open_window("w1")
            first = await api.issue()
            mine = await api.issue(phone="13912345678")
            ws = await open_live(url, f"/ws/tickets/{mine['id']}", token=None)
            pos = await receive(ws)
            assert pos["type"] == "position" and pos["id"] == mine["id"] and pos["status"] == "waiting"
            assert pos["ahead"] == 1 and pos["estimated_wait_s"] > 0
            assert "phone" not in pos and pos["phone_masked"] == "139****5678"

            await api.http.post(f"/api/v1/centers/{C}/windows/w5/open", json={"staff_id": f"{C}-s05"})
            changed = await receive(ws)  # a second open window: a shorter estimated wait
            assert changed["ahead"] == 1 and changed["estimated_wait_s"] < pos["estimated_wait_s"]
            await api.http.post(f"/api/v1/centers/{C}/windows/w5/close")
            await receive(ws)

            called = await api.call_next("w1")
            assert called["id"] == first["id"]
            assert (await receive(ws))["ahead"] == 0
            await api.act(first["id"], "start")  # someone else's ticket moving on changes nothing for us
            assert await silent(ws)
            await api.act(first["id"], "finish")
            await api.call_next("w1")
            mine_called = await receive(ws)
            assert mine_called["status"] == "called" and mine_called["window"] == "w1"
            assert mine_called["window_name_zh"] and mine_called["window_name_en"]
            await ws.close()
