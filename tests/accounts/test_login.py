"""Logging in on real PostgreSQL: argon2 hashes only, a login token of the account's role leading to
its home page, lock-out after repeated failures counted exactly however many arrive at once, the
per-address limit, logout, and accounts managed only by those allowed."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import httpx
import pytest

from queue_server.config import Settings
from queue_server.record.people import create_token
from tests.support import AUTH, running_app

C, OTHER = "jingansi", "caojiadu"
PASSWORD = "correct horse battery"


async def add_user(client: httpx.AsyncClient, headers: dict[str, str] = AUTH, **body: Any) -> httpx.Response:
    return await client.post("/api/v1/users", json={"display_name": "张三", "password": PASSWORD, **body}, headers=headers)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/login", json={"username": username, "password": password})


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("QUEUE_LOGIN_ATTEMPTS_PER_MINUTE", "100000")
    return settings


async def test_each_role_logs_in_to_its_home_with_the_rights_of_its_role(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        for body in ({"username": "clerk.w1", "role": "clerk", "center": C, "window": "w1", "staff_id": f"{C}-s01"},
                     {"username": "boss", "role": "manager", "center": C},
                     {"username": "root", "role": "admin"},
                     {"username": "eyes", "role": "auditor"}):
            r = await add_user(client, **body)
            assert r.status_code == 201, r.text
            assert "password" not in r.text and "argon2" not in r.text
        stored = await app.state.pool.fetchval("SELECT password_hash FROM users WHERE username = 'clerk.w1'")
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        homes = {}
        for name in ("clerk.w1", "boss", "root", "eyes"):
            r = await login(client, name)
            assert r.status_code == 200, r.text
            homes[name] = r.json()["home"]
            headers = {"Authorization": f"Bearer {r.json()['token']}"}
            me = (await client.get("/api/v1/me", headers=headers)).json()
            assert me["user"] == name and me["expires_at"] is not None
            opened = await client.post(f"/api/v1/centers/{C}/windows/w1/open", json={"staff_id": f"{C}-s01"},
                                       headers=headers)
            assert opened.status_code == (403 if name == "eyes" else 200), (name, opened.text)
            report = await client.get("/api/v1/ops/figures", headers=headers)
            assert report.status_code == (403 if name == "clerk.w1" else 200), (name, report.text)
        assert homes == {"clerk.w1": f"/staff/{C}/w1", "boss": "/dashboard", "root": "/admin", "eyes": "/dashboard"}
        lifetime = await app.state.pool.fetchval(
            "SELECT extract(epoch FROM t.expires_at - t.created_at)::int FROM tokens t JOIN users u ON u.id = t.user_id"
            " WHERE u.username = 'boss'")
        assert lifetime == settings.login_token_ttl_s


async def test_wrong_passwords_lock_the_account_exactly_even_all_at_once(settings: Settings,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_LOGIN_MAX_FAILURES", "5")
    async with running_app(settings) as (app, client):
        assert (await add_user(client, username="clerk.w2", role="clerk", center=C, window="w2")).status_code == 201
        unknown = await login(client, "nobody")
        wrong = await login(client, "clerk.w2", "not the password")
        assert unknown.status_code == wrong.status_code == 401 and unknown.json()["detail"] == wrong.json()["detail"]
        answers = await asyncio.gather(*(login(client, "clerk.w2", f"guess {i:04d}") for i in range(12)))
        assert {a.status_code for a in answers} <= {401, 423} and 423 in {a.status_code for a in answers}
        failures = await app.state.pool.fetchval("SELECT failures FROM users WHERE username = 'clerk.w2'")
        assert failures >= 5   # every wrong password counted; none lost to another at the same moment
        right = await login(client, "clerk.w2")
        assert right.status_code == 423 and int(right.headers["retry-after"]) > 0, right.text
        assert await app.state.pool.fetchval("SELECT count(*) FROM tokens WHERE user_id IS NOT NULL") == 0
        assert (await client.post("/api/v1/users/clerk.w2/unlock", headers=AUTH)).status_code == 204
        assert (await login(client, "clerk.w2")).status_code == 200
        assert await app.state.pool.fetchval("SELECT failures FROM users WHERE username = 'clerk.w2'") == 0


async def test_logins_are_rate_limited_per_address(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_LOGIN_ATTEMPTS_PER_MINUTE", "6")
    async with running_app(settings) as (_, client):
        codes = [(await login(client, f"user{i}", "whatever else")).status_code for i in range(6)]
        assert codes[0] == 401 and codes[-1] == 429


async def test_logout_and_a_new_password_end_the_logins(settings: Settings) -> None:
    async with running_app(settings) as (_, client):
        await add_user(client, username="boss", role="manager", center=C)
        first, second = [(await login(client, "boss")).json()["token"] for _ in range(2)]
        headers = {"Authorization": f"Bearer {first}"}
        assert (await client.post("/api/v1/logout", headers=headers)).status_code == 204
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
        assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {second}"})).status_code == 200
        assert (await client.post("/api/v1/logout", headers=AUTH)).status_code == 409
        r = await client.post("/api/v1/users/boss/password", json={"password": "another long one"}, headers=AUTH)
        assert r.status_code == 204
        assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {second}"})).status_code == 401
        assert (await login(client, "boss")).status_code == 401
        assert (await login(client, "boss", "another long one")).status_code == 200
        assert (await client.post("/api/v1/users/boss/disable", headers=AUTH)).status_code == 204
        assert (await login(client, "boss", "another long one")).status_code == 401


async def test_who_may_manage_which_accounts(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        manager = {"Authorization": f"Bearer {await create_token(app.state.pool, 'manager', C)}"}
        clerk = {"Authorization": f"Bearer {await create_token(app.state.pool, 'staff', C, 'w1')}"}
        assert (await add_user(client, manager, username="mine", role="clerk", center=C, window="w3")).status_code == 201
        for who, body in ((manager, {"username": "theirs", "role": "clerk", "center": OTHER}),
                          (manager, {"username": "peer", "role": "manager", "center": C}),
                          (manager, {"username": "god", "role": "admin"}),
                          (clerk, {"username": "self", "role": "clerk", "center": C})):
            r = await add_user(client, who, **body)
            assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json", r.text
        assert (await add_user(client, username="mine", role="clerk", center=C)).status_code == 409
        assert (await client.post("/api/v1/users/mine/unlock", headers=manager)).status_code == 204
        assert (await client.post("/api/v1/users/mine/unlock", headers=clerk)).status_code == 403
        listed = (await client.get("/api/v1/users", headers=manager)).json()["users"]
        assert [u["username"] for u in listed] == ["mine"] and "password_hash" not in listed[0]
        assert (await client.get(f"/api/v1/users?center={OTHER}", headers=manager)).status_code == 403
        assert await app.state.pool.fetchval("SELECT count(*) FROM users") == 1


@pytest.mark.parametrize("body, field", [
    ({"username": "A B", "role": "clerk", "center": C}, "username"),
    ({"username": "ok", "role": "janitor", "center": C}, "role"),
    ({"username": "ok", "role": "clerk", "center": C, "password": "short"}, "password"),
    ({"username": "ok", "role": "clerk"}, "center"),
    ({"username": "ok", "role": "clerk", "center": "nowhere"}, "center"),
    ({"username": "ok", "role": "clerk", "center": C, "window": "w99"}, "window"),
    ({"username": "ok", "role": "manager", "center": C, "window": "w1"}, "window"),
    ({"username": "ok", "role": "admin", "center": C}, "center"),
    ({"username": "ok", "role": "clerk", "center": C, "staff_id": f"{OTHER}-s01"}, "staff_id"),
    ({"username": "ok", "role": "clerk", "center": C, "extra": 1}, "extra"),
])
async def test_a_bad_account_answers_problem_and_writes_nothing(settings: Settings, body: dict[str, Any], field: str) -> None:
    async with running_app(settings) as (app, client):
        r = await client.post("/api/v1/users", json={"display_name": "x", "password": PASSWORD, **body}, headers=AUTH)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        assert field in r.text
        assert await app.state.pool.fetchval("SELECT count(*) FROM users") == 0


async def test_bad_logins_are_4xx(settings: Settings) -> None:
    async with running_app(settings) as (_, client):
        for body in ({}, {"username": "x"}, {"username": "x" * 65, "password": "y"}, {"username": "x", "password": "y" * 257},
                     {"username": 1, "password": 2}):
            r = await client.post("/api/v1/login", json=body)
            assert r.status_code == 422, r.text
        assert (await client.post("/api/v1/login", content=b"{", headers={"content-type": "application/json"})).status_code == 400
        assert (await client.post("/api/v1/login", content=b"x" * 20000)).status_code == 413
        assert (await client.post("/api/v1/login", json={"username": "é\u0000", "password": "p"})).status_code == 422
        assert (await client.post("/api/v1/login", json={"username": "nobody", "password": "\u0000"})).status_code == 401
