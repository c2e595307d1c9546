"""A window's ticket on the dashboard: called, it is there; finished or no-showed, it is gone — in
``/api/v1/ops/figures``, in the ``/ws/ops`` updates, and after a restart warms the figures up again.
(An event's window view leaves out a field that is empty, so an absent ``current`` must clear it.)"""
from __future__ import annotations

from typing import Any

import httpx

from queue_server.config import Settings
from tests.realtime.live import open_live, receive
from tests.support import AUTH, running_app, server_process, settled

C = "jingansi"


def window(figures: dict[str, Any], code: str) -> dict[str, Any]:
    return next(w for w in figures["window_list"] if w["id"] == code)


async def center_figures(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/api/v1/ops/figures", headers=AUTH, params={"center": C})
    assert r.status_code == 200, r.text
    return r.json()["centers"][C]


async def serve_one(client: httpx.AsyncClient, win: str, ending: str) -> str:
    """Issue a ticket, call it to ``win`` and end it with ``ending`` (finish or no-show); its number."""
    t = (await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})).json()
    called = await client.post(f"/api/v1/centers/{C}/windows/{win}/call-next", headers=AUTH)
    assert called.status_code == 200 and called.json()["ticket"]["id"] == t["id"]
    if ending == "finish":
        assert (await client.post(f"/api/v1/tickets/{t['id']}/start", headers=AUTH)).status_code == 200
    assert (await client.post(f"/api/v1/tickets/{t['id']}/{ending}", headers=AUTH)).status_code == 200
    return t["number"]


async def test_finished_and_no_show_tickets_leave_the_window_and_stay_gone_after_a_restart(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        for w in ("w1", "w2"):
            r = await client.post(f"/api/v1/centers/{C}/windows/{w}/open", headers=AUTH, json={"staff_id": f"{C}-s01"})
            assert r.status_code == 200, r.text
        t = (await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})).json()
        await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH)
        await settled(app, [C])
        at_w1 = window(await center_figures(client), "w1")
        assert (at_w1["current"], at_w1["current_number"]) == (t["id"], t["number"])
        await client.post(f"/api/v1/tickets/{t['id']}/no-show", headers=AUTH)
        await serve_one(client, "w2", "finish")
        await settled(app, [C])
        figures = await center_figures(client)
        for w in ("w1", "w2"):
            assert window(figures, w)["current"] is None and window(figures, w)["current_number"] is None, w
            assert window(figures, w)["state"] == "open" and window(figures, w)["name_zh"]
        queue = (await client.get(f"/api/v1/centers/{C}/queue")).json()
        assert all(not w.get("current") for w in queue["windows"])

    async with running_app(settings) as (app, client):     # warmed up from today's events and a snapshot
        await settled(app, [C])
        figures = await center_figures(client)
        for w in ("w1", "w2"):
            assert window(figures, w)["current_number"] is None, w
            assert window(figures, w)["staff_id"] == f"{C}-s01"


async def test_the_ops_socket_clears_the_number_when_the_ticket_is_done(settings: Settings) -> None:
    with server_process(settings) as (url, _proc):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await client.post(f"/api/v1/centers/{C}/windows/w3/open", headers=AUTH, json={"staff_id": f"{C}-s03"})
            ws = await open_live(url, "/ws/ops", center=C)
            assert (await receive(ws))["type"] == "snapshot"
            t = (await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})).json()
            await client.post(f"/api/v1/centers/{C}/windows/w3/call-next", headers=AUTH)
            while True:
                update = await receive(ws)
                if "window_list" in update["centers"][C] and window(update["centers"][C], "w3")["current_number"]:
                    break
            assert window(update["centers"][C], "w3")["current_number"] == t["number"]
            await client.post(f"/api/v1/tickets/{t['id']}/start", headers=AUTH)
            await client.post(f"/api/v1/tickets/{t['id']}/finish", headers=AUTH)
            while True:
                update = await receive(ws)
                if update["centers"][C].get("served") == 1:
                    break
            assert "window_list" in update["centers"][C], "the served count changed but the window did not"
            assert window(update["centers"][C], "w3")["current_number"] is None
            await ws.close()
