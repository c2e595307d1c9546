"""The device registry on real Redis and PostgreSQL: a device that goes silent is announced offline
(and online when it is back) exactly once per transition however many instances watch, the
dashboard's figure follows those events, a revoked or rotated token's sockets close with 4401 on
every instance at once, and bad input writes nothing."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from redis.asyncio import Redis

from queue_server.config import Settings
from queue_server.engine.keys import Keys
from tests.realtime.live import close_code, open_live, receive
from tests.support import AUTH, running_app, server_process

C = "jingansi"


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0) -> Any:
    """Wait on a condition, with a generous deadline (never a timed assertion)."""
    deadline = time.monotonic() + timeout
    while not (found := await check()):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)
    return found


async def device_events(redis: Redis, keys: Keys, device: str) -> list[str]:
    entries = await redis.xrange(keys.events(C))
    out = []
    for _, fields in entries:
        if fields[b"type"].startswith(b"device."):
            data = orjson.loads(fields[b"data"])
            if data["device"]["id"] == device:
                out.append(data["type"])
    return out


async def register(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/devices", json={"center": C, **body}, headers=AUTH)
    assert r.status_code == 201, r.text
    return r.json()


async def test_silent_device_goes_offline_and_back_once_with_two_watchers(settings: Settings,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_DEVICE_WATCH_S", "0.2")
    monkeypatch.setenv("QUEUE_DEVICE_HEARTBEATS_PER_MINUTE", "600")
    monkeypatch.setenv("QUEUE_OPS_POLL_S", "0.2")
    async with running_app(settings) as (a, client), running_app(settings) as (b, _):
        printer = await register(client, kind="printer", model="EPSON TM-T88VI", software_version="1.4.2",
                                 installed_on="2026-11-20", label="hall printer", offline_after_s=6)
        beat = {"Authorization": f"Bearer {printer['token']}"}
        redis, keys = a.state.redis, a.state.keys

        async def announced() -> list[str]:
            return await device_events(redis, keys, printer["id"])

        async def watch_hard() -> None:
            """Both instances' watchers, called together over and over, on top of their own loops."""
            await asyncio.gather(*(w.check() for _ in range(5) for w in (a.state.devices.watch, b.state.devices.watch)))

        async def figures() -> dict:
            r = await client.get("/api/v1/ops/figures", params={"center": C}, headers=AUTH)
            return r.json()["centers"][C]

        async def dashboard(online: bool) -> bool:
            shown = [d for d in (await figures())["device_list"] if d["label"] == "hall printer"]
            return bool(shown) and shown[0]["online"] is online

        async def alive_until_shown_online() -> None:
            """Heartbeats every half second until the dashboard shows the printer online."""
            while not await dashboard(True):
                assert (await client.post("/api/v1/devices/heartbeat", headers=beat)).status_code == 200
                await asyncio.sleep(0.5)

        await asyncio.wait_for(alive_until_shown_online(), 60)
        await watch_hard()     # the dashboard reads the heartbeat as soon as it is in Redis, the watchers on their next look
        assert await announced() == ["device.online"]
        # silent now: offline once its 6 s are past (above the 2 s presence flush plus the beat) (the ops poller alone would still call it online for 90 s)
        await eventually(lambda: _last_is(announced, "device.offline"), "the silent printer never went offline")
        await watch_hard()
        await eventually(lambda: dashboard(False), "the dashboard never showed the printer offline")
        assert (await figures())["devices"]["offline"] >= 1
        await asyncio.wait_for(alive_until_shown_online(), 60)
        await watch_hard()
        assert await announced() == ["device.online", "device.offline", "device.online"]
        listed = (await client.get(f"/api/v1/centers/{C}/devices", headers=AUTH)).json()["devices"]
        shown = next(d for d in listed if d["id"] == printer["id"])
        assert shown["state"] == "online" and shown["model"] == "EPSON TM-T88VI" and shown["installed_on"] == "2026-11-20"


async def _last_is(announced: Callable[[], Awaitable[list[str]]], kind: str, n: int = 2) -> bool:
    found = await announced()
    return len(found) >= n and found[-1] == kind


async def test_heartbeats_are_rate_limited(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_DEVICE_HEARTBEATS_PER_MINUTE", "6")
    async with running_app(settings) as (_, client):
        printer = await register(client, kind="printer")
        beat = {"Authorization": f"Bearer {printer['token']}"}
        codes = [(await client.post("/api/v1/devices/heartbeat", headers=beat)).status_code for _ in range(5)]
        assert codes[0] == 200 and codes[-1] == 429
        staff = await client.post("/api/v1/devices/heartbeat", headers=AUTH)
        assert staff.status_code == 403


async def test_revoked_token_closes_its_sockets_on_every_instance(settings: Settings) -> None:
    with server_process(settings) as (url_a, _), server_process(settings) as (url_b, _):
        async with httpx.AsyncClient(base_url=url_a, timeout=20) as a, httpx.AsyncClient(base_url=url_b, timeout=20) as b:
            hall = await register(a, kind="hall_display", model="Hisense 75", label="hall east")
            other = await register(a, kind="hall_display", label="hall west")
            path = f"/ws/centers/{C}/display"
            sockets = [await open_live(url, path, token=hall["token"]) for url in (url_a, url_b)]
            kept = await open_live(url_b, path, token=other["token"])
            for ws in (*sockets, kept):
                assert (await receive(ws))["type"] == "snapshot"
            wall = await register(a, kind="dashboard", label="wall")
            dashboard = await open_live(url_b, "/ws/ops", token=wall["token"], center=C)
            assert (await receive(dashboard, timeout=20))["type"] == "snapshot"
            r = await a.post(f"/api/v1/devices/{hall['id']}/revoke", headers=AUTH)
            assert r.status_code == 204, r.text
            assert (await a.post(f"/api/v1/devices/{wall['id']}/revoke", headers=AUTH)).status_code == 204
            # the cache's own look for revocations would take seconds and closes no socket: 4401 is the publish
            closed = await asyncio.gather(*(close_code(ws, timeout=20) for ws in (*sockets, dashboard)))
            assert closed == [4401, 4401, 4401]
            again = await open_live(url_b, path, token=hall["token"])
            assert await close_code(again) == 4401
            issued = await a.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}, headers=AUTH)
            assert issued.status_code == 201, issued.text
            while (msg := await receive(kept, timeout=20))["type"] != "ticket.issued":   # another device's socket stays
                pass
            assert msg["ticket"]["id"] == issued.json()["id"]
            await kept.close()


async def test_rotation_old_token_refused_new_one_works(settings: Settings) -> None:
    with server_process(settings) as (url_a, _), server_process(settings) as (url_b, _):
        async with httpx.AsyncClient(base_url=url_a, timeout=20) as a, httpx.AsyncClient(base_url=url_b, timeout=20) as b:
            printer = await register(a, kind="printer")
            old = {"Authorization": f"Bearer {printer['token']}"}
            assert (await b.post("/api/v1/devices/heartbeat", headers=old)).status_code == 200   # cached on b
            ws = await open_live(url_b, f"/ws/centers/{C}/display",
                                 token=(await register(a, kind="hall_display"))["token"])
            assert (await receive(ws))["type"] == "snapshot"
            r = await a.post(f"/api/v1/devices/{printer['id']}/rotate", headers=AUTH)
            assert r.status_code == 200, r.text
            new = {"Authorization": f"Bearer {r.json()['token']}"}
            for client in (a, b):
                assert (await client.post("/api/v1/devices/heartbeat", headers=new)).status_code == 200
            await eventually(lambda: _refused(b, old), "the second instance kept the old token")
            assert (await a.post("/api/v1/devices/heartbeat", headers=old)).status_code == 401
            await ws.close()


async def _refused(client: httpx.AsyncClient, headers: dict[str, str]) -> bool:
    return (await client.post("/api/v1/devices/heartbeat", headers=headers)).status_code == 401


@pytest.mark.parametrize("body, field", [
    ({"kind": "fax"}, "kind"),
    ({"kind": "window_screen", "window": "w99"}, "window"),
    ({"kind": "kiosk", "point": "nowhere"}, "point"),
    ({"kind": "kiosk", "window": "w1", "point": "sp1"}, "point"),
    ({"kind": "kiosk", "installed_on": "yesterday"}, "installed_on"),
    ({"kind": "kiosk", "offline_after_s": 0}, "offline_after_s"),
    ({"kind": "kiosk", "center": "nowhere"}, "center"),
])
async def test_bad_device_answers_problem_and_writes_nothing(settings: Settings, body: dict[str, Any], field: str) -> None:
    async with running_app(settings) as (app, client):
        pool: asyncpg.Pool = app.state.pool
        before = await pool.fetchval("SELECT count(*) FROM devices"), await pool.fetchval("SELECT count(*) FROM tokens")
        r = await client.post("/api/v1/devices", json={"center": C, **body}, headers=AUTH)
        assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert field in r.text
        after = await pool.fetchval("SELECT count(*) FROM devices"), await pool.fetchval("SELECT count(*) FROM tokens")
        assert after == before


async def test_a_manager_registers_only_at_their_own_center(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        r = await client.post("/api/v1/tokens", json={"role": "manager", "center": "caojiadu"}, headers=AUTH)
        manager = {"Authorization": f"Bearer {r.json()['token']}"}
        pool: asyncpg.Pool = app.state.pool
        before = await pool.fetchval("SELECT count(*) FROM devices")
        r = await client.post("/api/v1/devices", json={"center": C, "kind": "kiosk"}, headers=manager)
        assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
        assert await pool.fetchval("SELECT count(*) FROM devices") == before
        mine = await client.post("/api/v1/devices", json={"center": "caojiadu", "kind": "kiosk"}, headers=manager)
        assert mine.status_code == 201
        assert (await client.post(f"/api/v1/devices/{mine.json()['id']}/rotate", headers=manager)).status_code == 200
        theirs = (await client.get(f"/api/v1/centers/{C}/devices", headers=manager))
        assert theirs.status_code == 403
