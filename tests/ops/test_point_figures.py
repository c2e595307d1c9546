"""The dashboard's service-point figures on real Redis and PostgreSQL through real server processes:
tickets at two points of a center (served by different remote windows) and in the hall are counted
per point and as remote vs hall, per center and for the district, alike over /api/v1/ops/figures and
/ws/ops; a point's serving windows show whether they are open; a point suspended through the API
shows its new status; and a restarted instance (warmed up from today's stream) shows the same counts."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from queue_server.config import Settings
from tests.realtime.live import open_live, receive
from tests.support import ADMIN_TOKEN, AUTH, on_a_service_day, server_process, wait_recorded

C, OTHER = "jingansi", "caojiadu"
T = f"/api/v1/centers/{C}/tickets"
AT_POINTS = ["sp1", "sp3", "sp1", "sp3", "sp1"]     # the demo's all-day assignments: r1 serves sp1, sp2; r2 sp3, sp4


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every process of this test on one service day: a run across Shanghai midnight changes nothing."""
    return on_a_service_day(settings)


def points_of(center: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["code"]: p for p in center["points"]}


def expected(center: dict[str, Any], r2_open: bool = True) -> bool:
    """The counts after the test's tickets and one sp1 ticket served by r1."""
    p = points_of(center)
    return (center["remote"] == {"issued": 5, "served": 1, "waiting": 4}
            and center["hall"] == {"issued": 1, "served": 0, "waiting": 1}
            and (p["sp1"]["issued"], p["sp1"]["served"], p["sp1"]["waiting"]) == (3, 1, 2)
            and (p["sp3"]["issued"], p["sp3"]["served"], p["sp3"]["waiting"]) == (2, 0, 2)
            and (p["sp2"]["issued"], p["sp2"]["waiting"]) == (0, 0)
            and [(w["id"], w["open"]) for w in p["sp1"]["windows"]] == [("r1", True)]
            and [(w["id"], w["open"]) for w in p["sp3"]["windows"]] == [("r2", r2_open)]
            and [w["id"] for w in p["sp2"]["windows"]] == ["r1"])


async def figures_until(client: httpx.AsyncClient, holds: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The figures once ``holds`` is true of them (a generous deadline: the feed is asynchronous)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        body = (await client.get("/api/v1/ops/figures", headers=AUTH)).json()
        if holds(body) or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(0.2)


async def socket_until(ws: Any, centers: dict[str, Any], district: dict[str, Any],
                       holds: Callable[[dict[str, Any], dict[str, Any]], bool]) -> None:
    """Merge the socket's updates into ``centers``/``district`` (as the page does) until ``holds``."""
    deadline = asyncio.get_running_loop().time() + 30
    while not holds(centers, district):
        assert asyncio.get_running_loop().time() < deadline, "the socket never showed the figures"
        msg = await receive(ws, timeout=deadline - asyncio.get_running_loop().time())
        for code, diff in (msg.get("centers") or {}).items():
            centers[code].update(diff)
        district.update(msg.get("district") or {})


async def test_tickets_at_two_points_count_per_point_and_as_remote_across_a_restart(settings: Settings) -> None:
    env = {"QUEUE_OPS_POLL_S": "0.2"}
    with server_process(settings, extra_env=env) as (url, _):
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as api:
            for i, w in enumerate(("r1", "r2")):
                assert (await api.post(f"/api/v1/centers/{C}/windows/{w}/open",
                                       json={"staff_id": f"{C}-s0{i + 1}"})).status_code == 200
            assert (await api.post(f"/api/v1/centers/{OTHER}/windows/r1/open",
                                   json={"staff_id": f"{OTHER}-s01"})).status_code == 200
            ws = await open_live(url, "/ws/ops", ADMIN_TOKEN)
            snap = await receive(ws)
            assert snap["type"] == "snapshot"
            centers, district = snap["centers"], snap["district"]
            assert set(points_of(centers[C])) == {"sp1", "sp2", "sp3", "sp4"}
            assert centers[C]["remote"] == {"issued": 0, "served": 0, "waiting": 0}

            for p in AT_POINTS:
                r = await api.post(T, json={"matter": "hrss-001", "channel": "service_point", "service_point": p})
                assert r.status_code == 201, r.text
            assert (await api.post(T, json={"matter": "hrss-001"})).status_code == 201
            r = await api.post(f"/api/v1/centers/{OTHER}/tickets",
                               json={"matter": "hrss-001", "channel": "service_point", "service_point": "sp1"})
            assert r.status_code == 201, r.text
            called = (await api.post(f"/api/v1/centers/{C}/windows/r1/call-next")).json()["ticket"]
            assert called["service_point"] == "sp1"
            for step in ("start", "finish"):
                assert (await api.post(f"/api/v1/tickets/{called['id']}/{step}")).status_code == 200

            await socket_until(ws, centers, district, lambda c, d: expected(c[C]) and d["remote"]["issued"] == 6)
            assert district["remote"] == {"issued": 6, "served": 1, "waiting": 5}
            assert district["hall"] == {"issued": 1, "served": 0, "waiting": 1}
            assert district["issued"] == district["remote"]["issued"] + district["hall"]["issued"]
            assert centers[OTHER]["remote"] == {"issued": 1, "served": 0, "waiting": 1}

            body = await figures_until(api, lambda b: expected(b["centers"][C]))
            assert expected(body["centers"][C]) and body["district"]["remote"] == district["remote"]

            # A window closed, and a point suspended through the API, show on the socket without a restart.
            assert (await api.post(f"/api/v1/centers/{C}/windows/r2/close")).status_code == 200
            r = await api.post(f"/api/v1/centers/{C}/points/sp4/status", json={"status": "suspended", "reason": "装修"})
            assert r.status_code == 200, r.text
            await socket_until(ws, centers, district, lambda c, _: expected(c[C], r2_open=False)
                               and points_of(c[C])["sp4"]["status"] == "suspended")
            await ws.close()

    with server_process(settings, extra_env=env) as (url, _):      # a new instance: warmed up from today's stream
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as api:
            body = await figures_until(api, lambda b: expected(b["centers"][C], r2_open=False))
            assert expected(body["centers"][C], r2_open=False), body["centers"][C]["points"]
            assert points_of(body["centers"][C])["sp4"]["status"] == "suspended"
            assert body["district"]["remote"] == {"issued": 6, "served": 1, "waiting": 5}
            assert body["district"]["hall"] == {"issued": 1, "served": 0, "waiting": 1}

            pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
            try:
                await wait_recorded(pool, settings.redis_url, settings, C)
            finally:
                await pool.close()
            rows = (await api.get("/api/v1/ops/reports", params={"by": "point", "center": C})).json()["rows"]
            assert {r["point"]: (r["issued"], r["finished"], r["unfinished"]) for r in rows} == {
                "sp1": (3, 1, 2), "sp3": (2, 0, 2), None: (1, 0, 1)}      # the same counts from the record
