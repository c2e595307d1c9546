"""Who sees what: the district admin every center, a center's manager and its dashboard devices only
that center — over HTTP (figures, reports, exports) and on /ws/ops, where a manager's socket never
hears of another center. Bad tokens, other kinds of token and unknown centers are refused."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from queue_server.config import Settings
from tests.realtime.live import close_code, open_live, receive, silent
from tests.support import ADMIN_TOKEN, AUTH, on_a_service_day, running_app, server_process, settled, wait_recorded

C, OTHER = "jingansi", "caojiadu"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every process of these tests on one service day: a run across Shanghai midnight changes nothing."""
    return on_a_service_day(settings)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def token(client: Any, **body: Any) -> str:
    r = await client.post("/api/v1/tokens", headers=AUTH, json={"label": "test", **body})
    assert r.status_code == 201, r.text
    return r.json()["token"]


async def test_http_scope_of_figures_reports_and_exports(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        for center in (C, OTHER):
            assert (await client.post(f"/api/v1/centers/{center}/tickets", headers=AUTH, json={"matter": "hrss-001"})).status_code == 201
        manager = await token(client, role="manager", center=C)
        dashboard = await token(client, role="device", center=C, device_kind="dashboard")
        screen = await token(client, role="device", center=C, window="w1", device_kind="screen")
        staff = await token(client, role="staff", center=C, window="w1", staff_id=f"{C}-s01")
        await settled(app, [C, OTHER])

        admin = (await client.get("/api/v1/ops/figures", headers=AUTH)).json()
        assert len(admin["centers"]) == 14 and admin["district"]["waiting_total"] == 2
        one = (await client.get(f"/api/v1/ops/figures?center={OTHER}", headers=AUTH)).json()
        assert list(one["centers"]) == [OTHER] and one["district"] is None
        for t in (manager, dashboard):
            body = (await client.get("/api/v1/ops/figures", headers=bearer(t))).json()
            assert list(body["centers"]) == [C] and body["district"] is None
            assert (await client.get(f"/api/v1/ops/figures?center={OTHER}", headers=bearer(t))).status_code == 403
        for t in (screen, staff):
            r = await client.get("/api/v1/ops/figures", headers=bearer(t))
            assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
        assert (await client.get("/api/v1/ops/figures")).status_code == 401
        assert (await client.get("/api/v1/ops/figures", headers=bearer("qs_nope"))).status_code == 401
        assert (await client.get("/api/v1/ops/figures?center=nowhere", headers=AUTH)).status_code == 404

        for center in (C, OTHER):   # reports and exports read the record, which the persister fills
            await wait_recorded(app.state.pool, settings.redis_url, settings, center)
        rows = (await client.get("/api/v1/ops/reports", headers=bearer(manager))).json()["rows"]
        assert [r["center"] for r in rows] == [C]
        assert {r["center"] for r in (await client.get("/api/v1/ops/reports", headers=AUTH)).json()["rows"]} == {C, OTHER}
        assert (await client.get(f"/api/v1/ops/reports?center={OTHER}", headers=bearer(manager))).status_code == 403
        assert (await client.get("/api/v1/ops/reports", headers=bearer(dashboard))).status_code == 403
        text = (await client.get("/api/v1/ops/tickets.csv", headers=bearer(manager))).text
        assert f"{C}-" in text and f"{OTHER}-" not in text
        assert (await client.get("/api/v1/ops/tickets.csv", headers=bearer(dashboard))).status_code == 403


@pytest.mark.parametrize("query, field", [
    ({"since": "2026-13-01"}, "since"), ({"until": "yesterday"}, "until"),
    ({"since": "2026-03-02", "until": "2026-03-01"}, "since"), ({"since": "2000-01-01", "until": "2026-03-01"}, "since"),
    ({"by": "center,color"}, "by"), ({"by": "center,center"}, "by"), ({"period": "fortnight"}, "period"),
])
async def test_bad_report_queries_name_the_field(settings: Settings, query: dict[str, str], field: str) -> None:
    async with running_app(settings) as (_, client):
        for path in ("/api/v1/ops/reports", "/api/v1/ops/reports.csv"):
            r = await client.get(path, headers=AUTH, params=query)
            assert r.status_code == 422, (path, query, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["errors"][0]["field"] == field
        if field in ("since", "until"):
            r = await client.get("/api/v1/ops/tickets.csv", headers=AUTH, params=query)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == field


async def dashboards_online(client: httpx.AsyncClient, want: int) -> int:
    """How many dashboard devices of the center the figures show online, waiting a while for ``want``."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        body = (await client.get("/api/v1/ops/figures", headers=AUTH, params={"center": C})).json()
        n = sum(1 for d in body["centers"][C]["device_list"] if d["kind"] == "dashboard" and d["online"])
        if n == want or asyncio.get_running_loop().time() > deadline:
            return n
        await asyncio.sleep(0.2)


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with server_process(settings, extra_env={"QUEUE_OPS_POLL_S": "0.2"}) as (url, _proc):
        yield url


async def test_ops_socket_scope(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        manager = await token(client, role="manager", center=C)
        dashboard = await token(client, role="device", center=C, device_kind="dashboard")
        screen = await token(client, role="device", center=C, window="w1", device_kind="screen")

        admin_ws = await open_live(server, "/ws/ops", ADMIN_TOKEN)
        snap = await receive(admin_ws)
        assert snap["type"] == "snapshot" and snap["scope"] == "district" and len(snap["centers"]) == 14
        assert snap["district"]["issued"] == 0
        mine = await open_live(server, "/ws/ops", manager)
        snap = await receive(mine)
        assert (snap["scope"], snap["center"], list(snap["centers"]), snap["district"]) == ("center", C, [C], None)
        device = await open_live(server, "/ws/ops", dashboard)
        assert list((await receive(device))["centers"]) == [C]

        await client.post(f"/api/v1/centers/{OTHER}/tickets", headers=AUTH, json={"matter": "hrss-001"})
        update = await receive(admin_ws)
        assert update["type"] == "update" and update["centers"][OTHER]["issued"] == 1
        assert update["district"]["issued"] == 1 and update["district"]["waiting_total"] == 1
        assert await silent(mine, 1.0)

        await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})
        update = await receive(mine)
        assert list(update["centers"]) == [C] and update["district"] is None
        assert update["centers"][C]["issued"] == 1 and update["centers"][C]["waiting"]["comprehensive"] == 1
        assert "window_list" not in update["centers"][C]          # only what changed
        assert (await receive(device))["centers"][C]["issued"] == 1

        assert await dashboards_online(client, 1) == 1            # presence is flushed every 2 s, polled every 0.2 s
        await device.close()
        assert await dashboards_online(client, 0) == 0

        for t, query, code in ((None, {}, 4401), ("qs_nope", {}, 4401), (screen, {}, 4403),
                               (manager, {"center": OTHER}, 4403), (ADMIN_TOKEN, {"center": "nowhere"}, 4404)):
            ws = await open_live(server, "/ws/ops", t, **query)
            assert await close_code(ws) == code, (t, query)
        for ws in (admin_ws, mine):
            await ws.close()
