"""Accounts under faults and races: with PostgreSQL stopped a clerk already logged in keeps working
from the cache while logging in, enrolling and revoking answer 503 with Retry-After (never 500, never
a half write) and work again once it is back; two rotations of one token at once make one new token;
a socket of a token that expires is closed by the sweep."""
from __future__ import annotations

import asyncio

import asyncpg
import httpx

from queue_server.config import Settings
from queue_server.record.people import create_token
from tests.faults.services import OwnPostgres
from tests.realtime.live import close_code, open_live, receive
from tests.support import AUTH, Services, running_app, server_process

C = "jingansi"
PASSWORD = "a long enough password"


def assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1, r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_with_postgresql_stopped_logins_wait_and_logged_in_clerks_work(record: tuple[OwnPostgres, Services]) -> None:
    pg, services = record
    settings = services.settings(await services.fresh_database())
    with server_process(settings) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            r = await http.post("/api/v1/users", headers=AUTH, json={
                "username": "clerk.w1", "display_name": "李四", "role": "clerk", "center": C, "window": "w1",
                "staff_id": f"{C}-s01", "password": PASSWORD})
            assert r.status_code == 201, r.text
            login = {"username": "clerk.w1", "password": PASSWORD}
            clerk = {"Authorization": f"Bearer {(await http.post('/api/v1/login', json=login)).json()['token']}"}
            device = (await http.post("/api/v1/devices", headers=AUTH, json={"center": C, "kind": "kiosk"})).json()
            code = (await http.post(f"/api/v1/devices/{device['id']}/enrollment", headers=AUTH)).json()["code"]
            tokens = (await http.get("/api/v1/tokens", headers=AUTH)).json()["tokens"]
            assert (await http.get("/api/v1/me", headers=clerk)).status_code == 200
            await asyncio.to_thread(pg.stop)
            try:
                # opening looks the clerk up in the record: that alone waits for it
                assert_unavailable(await http.post(f"/api/v1/centers/{C}/windows/w1/open", json={}, headers=clerk))
                assert (await http.post(f"/api/v1/centers/{C}/windows/w1/pause", json={"reason": "tea"},
                                        headers=clerk)).status_code == 200
                assert_unavailable(await http.post("/api/v1/login", json=login))
                assert_unavailable(await http.post("/api/v1/enroll", json={"code": code}))
                assert_unavailable(await http.post(f"/api/v1/tokens/{tokens[0]['id']}/revoke", headers=AUTH))
            finally:
                await asyncio.to_thread(pg.restart)
            for _ in range(200):
                r = await http.post("/api/v1/login", json=login)
                if r.status_code != 503:
                    break
                await asyncio.sleep(0.3)
            assert r.status_code == 200, r.text
            assert (await http.post("/api/v1/enroll", json={"code": code})).status_code == 200   # the code was not spent
            assert await _failures(settings) == 0


async def _failures(settings: Settings) -> int:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetchval("SELECT failures FROM users WHERE username = 'clerk.w1'")
    finally:
        await conn.close()


async def test_two_rotations_at_once_make_one_new_token(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        await create_token(app.state.pool, "manager", C, label="boss")
        tid = next(t["id"] for t in (await client.get("/api/v1/tokens", headers=AUTH)).json()["tokens"]
                   if t["label"] == "boss")
        answers = await asyncio.gather(*(client.post(f"/api/v1/tokens/{tid}/rotate", headers=AUTH) for _ in range(6)))
        assert sorted(a.status_code for a in answers)[0] == 200 and [a.status_code for a in answers].count(200) == 1
        assert {a.status_code for a in answers} <= {200, 404, 409}
        valid = await app.state.pool.fetchval("SELECT count(*) FROM tokens WHERE label = 'boss' AND revoked_at IS NULL")
        assert valid == 1


async def test_a_socket_of_an_expiring_token_is_closed(settings: Settings) -> None:
    with server_process(settings, extra_env={"QUEUE_TOKEN_EXPIRY_SWEEP_S": "0.5"}) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=20) as http:
            r = await http.post("/api/v1/devices", headers=AUTH, json={"center": C, "kind": "hall_display"})
            conn = await asyncpg.connect(settings.database_url)
            try:
                await conn.execute("UPDATE tokens SET expires_at = now() + interval '3 seconds' WHERE device_id = $1",
                                   r.json()["id"])
            finally:
                await conn.close()
            ws = await open_live(url, f"/ws/centers/{C}/display", token=r.json()["token"])
            assert (await receive(ws))["type"] == "snapshot"
            assert await close_code(ws, timeout=20) == 4401
            again = await open_live(url, f"/ws/centers/{C}/display", token=r.json()["token"])
            assert await close_code(again) == 4401
