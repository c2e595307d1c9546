"""Rotation and revocation of any token, from the API and the CLI, on two server processes: the other
instance refuses a revoked token within a second and closes its sockets (4401); a device enrolls by
a one-time code exactly once."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from queue_server.config import Settings
from tests.realtime.live import close_code, open_live, receive
from tests.support import ADMIN_TOKEN, AUTH, ROOT, running_app, server_process

C, OTHER = "jingansi", "caojiadu"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refused_within(client: httpx.AsyncClient, token: str, limit_s: float = 10.0) -> float:
    """Seconds until ``client``'s server refuses ``token`` (401), asked every 20 ms."""
    started = time.monotonic()
    while (r := await client.get("/api/v1/me", headers=bearer(token))).status_code != 401:
        assert r.status_code == 200 and time.monotonic() - started < limit_s, r.text
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def clerk_login(client: httpx.AsyncClient) -> str:
    r = await client.post("/api/v1/users", headers=AUTH, json={
        "username": "clerk.w1", "display_name": "李四", "role": "clerk", "center": C, "window": "w1",
        "staff_id": f"{C}-s01", "password": "a long enough password"})
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/login", json={"username": "clerk.w1", "password": "a long enough password"})
    assert r.status_code == 200, r.text
    return r.json()["token"]


async def token_id(client: httpx.AsyncClient, **match: Any) -> str:
    listed = (await client.get("/api/v1/tokens", headers=AUTH)).json()["tokens"]
    return next(t["id"] for t in listed if all(t[k] == v for k, v in match.items()))


async def test_a_token_revoked_on_one_instance_is_refused_on_the_other_within_a_second(settings: Settings) -> None:
    with server_process(settings) as (url_a, _), server_process(settings) as (url_b, _):
        async with httpx.AsyncClient(base_url=url_a, timeout=20) as a, httpx.AsyncClient(base_url=url_b, timeout=20) as b:
            token = await clerk_login(a)
            assert (await b.get("/api/v1/me", headers=bearer(token))).json()["user"] == "clerk.w1"   # cached on b
            ws = await open_live(url_b, f"/ws/centers/{C}/windows/w1/staff", token=token)
            assert (await receive(ws))["type"] == "snapshot"
            tid = await token_id(a, user="clerk.w1")
            r = await a.post(f"/api/v1/tokens/{tid}/revoke", headers=AUTH)
            assert r.status_code == 204, r.text
            took = await refused_within(b, token)
            assert took < 1.0, f"the other instance took {took:.3f} s"
            assert await close_code(ws) == 4401
            print(f"revoked on a, refused on b after {took * 1000:.0f} ms")


async def test_rotation_gives_a_working_token_and_ends_the_old_one_everywhere(settings: Settings) -> None:
    with server_process(settings) as (url_a, _), server_process(settings) as (url_b, _):
        async with httpx.AsyncClient(base_url=url_a, timeout=20) as a, httpx.AsyncClient(base_url=url_b, timeout=20) as b:
            r = await a.post("/api/v1/tokens", headers=AUTH, json={"role": "manager", "center": C, "label": "boss"})
            old = r.json()["token"]
            assert (await b.get("/api/v1/me", headers=bearer(old))).status_code == 200
            tid = await token_id(a, label="boss")
            rotated = await a.post(f"/api/v1/tokens/{tid}/rotate", headers=AUTH)
            assert rotated.status_code == 200, rotated.text
            new = rotated.json()["token"]
            assert await refused_within(b, old) < 1.0
            for client in (a, b):
                me = (await client.get("/api/v1/me", headers=bearer(new))).json()
                assert (me["role"], me["center"], me["label"]) == ("manager", C, "boss")
            again = await a.post(f"/api/v1/tokens/{tid}/rotate", headers=AUTH)
            assert again.status_code == 404


async def test_the_cli_revokes_and_rotates_on_running_servers(settings: Settings) -> None:
    env = {**os.environ, "REDIS_URL": settings.redis_url or "", "DATABASE_URL": settings.database_url or "",
           "QUEUE_KEY_PREFIX": settings.key_prefix, "QUEUE_ADMIN_TOKEN": ADMIN_TOKEN}

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "queue_server", *args], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    with server_process(settings) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=20) as client:
            token = await clerk_login(client)
            assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
            listed = cli("tokens", "list", "--center", C)
            tid = next(line for line in listed.splitlines() if "clerk.w1" in line).split('"id": "')[1][:64]
            cli("tokens", "revoke", tid)
            assert await refused_within(client, token) < 1.0
            r = await client.post("/api/v1/tokens", headers=AUTH, json={"role": "staff", "center": C, "window": "w2"})
            made = r.json()["token"]
            new = cli("tokens", "rotate", await token_id(client, window="w2")).strip()
            assert await refused_within(client, made) < 1.0
            assert (await client.get("/api/v1/me", headers=bearer(new))).json()["window"] == "w2"
            env["QUEUE_NEW_PASSWORD"] = "set from the command line"
            cli("user", "add", "chief", "--role", "admin", "--name", "王五")
            r = await client.post("/api/v1/login", json={"username": "chief", "password": "set from the command line"})
            assert r.status_code == 200 and r.json()["home"] == "/admin", r.text


async def test_only_admins_and_the_centers_manager_see_and_end_tokens(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        made = {}
        for role, center in (("manager", C), ("manager", OTHER), ("staff", C), ("auditor", C)):
            body = {"role": role, "center": center, "label": f"{role} {center}"}
            if role == "staff":
                body["window"] = "w1"
            made[f"{role} {center}"] = (await client.post("/api/v1/tokens", headers=AUTH, json=body)).json()["token"]
        manager = bearer(made[f"manager {C}"])
        seen = (await client.get("/api/v1/tokens", headers=manager)).json()["tokens"]
        assert {t["center"] for t in seen} == {C} and all("token" not in t for t in seen)
        for who in (made[f"staff {C}"], made[f"auditor {C}"]):
            assert (await client.get("/api/v1/tokens", headers=bearer(who))).status_code == 403
        ids = {t["label"]: t["id"] for t in (await client.get("/api/v1/tokens", headers=AUTH)).json()["tokens"]}
        for label, code in ((f"manager {OTHER}", 403), (f"auditor {C}", 403), (f"manager {C}", 403), (f"staff {C}", 204)):
            r = await client.post(f"/api/v1/tokens/{ids[label]}/revoke", headers=manager)
            assert r.status_code == code and (code == 204 or r.headers["content-type"] == "application/problem+json"), label
        for bad in ("nothex", "0" * 64, "é"):
            r = await client.post(f"/api/v1/tokens/{bad}/revoke", headers=AUTH)
            assert r.status_code == 404, r.text
        r = await client.post("/api/v1/tokens", headers=manager, json={"role": "auditor", "center": C})
        assert r.status_code == 403


async def test_a_device_enrolls_once_by_its_code(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_LOGIN_ATTEMPTS_PER_MINUTE", "100000")
    async with running_app(settings) as (app, client):
        r = await client.post("/api/v1/devices", headers=AUTH, json={"center": C, "kind": "tablet", "window": "w2"})
        device, first = r.json()["id"], r.json()["token"]
        code = (await client.post(f"/api/v1/devices/{device}/enrollment", headers=AUTH)).json()
        assert len(code["code"]) == 8 and code["code"].isdigit()
        answers = await asyncio.gather(*(client.post("/api/v1/enroll", json={"code": code["code"]}) for _ in range(5)))
        assert sorted(a.status_code for a in answers) == [200, 401, 401, 401, 401]   # single use, even all at once
        got = next(a.json() for a in answers if a.status_code == 200)
        assert got["device"] == device and got["page"] == f"/tablet/{C}/w2"
        me = (await client.get("/api/v1/me", headers=bearer(got["token"]))).json()
        assert (me["role"], me["window"]) == ("device", "w2")
        assert (await client.get("/api/v1/me", headers=bearer(first))).status_code == 401   # the earlier token ended
        older = (await client.post(f"/api/v1/devices/{device}/enrollment", headers=AUTH)).json()["code"]
        newer = (await client.post(f"/api/v1/devices/{device}/enrollment", headers=AUTH)).json()["code"]
        assert (await client.post("/api/v1/enroll", json={"code": older})).status_code == 401   # only the latest counts
        assert (await client.post("/api/v1/enroll", json={"code": newer})).status_code == 200
        other_manager = (await client.post("/api/v1/tokens", headers=AUTH, json={"role": "manager", "center": OTHER})).json()
        r = await client.post(f"/api/v1/devices/{device}/enrollment", headers=bearer(other_manager["token"]))
        assert r.status_code == 403
        for body in ({}, {"code": "1234"}, {"code": "abcdefgh"}, {"code": 12345678}):
            assert (await client.post("/api/v1/enroll", json=body)).status_code == 422
        late = (await client.post(f"/api/v1/devices/{device}/enrollment", headers=AUTH)).json()["code"]
        await app.state.pool.execute("UPDATE enrollment_codes SET expires_at = now() - interval '1 second'")
        assert (await client.post("/api/v1/enroll", json={"code": late})).status_code == 401


async def test_guessing_codes_is_limited_per_address(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_LOGIN_ATTEMPTS_PER_MINUTE", "6")
    async with running_app(settings) as (_, client):
        codes = [(await client.post("/api/v1/enroll", json={"code": f"{i:08d}"})).status_code for i in range(6)]
        assert codes[0] == 401 and codes[-1] == 429
