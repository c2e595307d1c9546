"""Tokens are cached for minutes, yet a revoked one stops working within seconds on every process:
each asks PostgreSQL for new revocations every few seconds."""
from __future__ import annotations

import asyncio
import time

from queue_server.config import Settings
from queue_server.record.people import create_token
from tests.realtime.live import close_code, open_live
from tests.support import running_app, server_process

C = "jingansi"


async def test_a_revoked_token_stops_working_within_seconds(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        token = await create_token(app.state.pool, "staff", C, "w1", f"{C}-s01", label="w1 clerk")
        headers = {"Authorization": f"Bearer {token}"}
        opened = await client.post(f"/api/v1/centers/{C}/windows/w1/open", json={}, headers=headers)
        assert opened.status_code == 200
        assert (await app.state.tokens.resolve(token)).label == "w1 clerk"
        await app.state.pool.execute("UPDATE tokens SET revoked_at = now() WHERE label = 'w1 clerk'")
        deadline = time.monotonic() + 15
        while (r := await client.post(f"/api/v1/centers/{C}/windows/w1/pause", json={"reason": "lunch"},
                                      headers=headers)).status_code != 401:
            assert r.status_code == 200 and time.monotonic() < deadline, r.text
            await asyncio.sleep(0.2)
        other = await create_token(app.state.pool, "staff", C, "w2", f"{C}-s02")
        assert (await app.state.tokens.resolve(other)).window == "w2"


async def test_tokens_known_at_start_are_preloaded_and_still_revocable(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        token = await create_token(app.state.pool, "device", C, "w1", device_kind="tablet", label="w1 tablet")
    async with running_app(settings) as (app, client):
        cache = app.state.tokens
        assert any(who.label == "w1 tablet" for _, who in cache._known.values())   # in the cache before any request
        await app.state.pool.execute("UPDATE tokens SET revoked_at = now() WHERE label = 'w1 tablet'")
        deadline = time.monotonic() + 15
        while await cache.resolve(token) is not None:
            assert time.monotonic() < deadline, "a revoked preloaded token kept working"
            await asyncio.sleep(0.2)


async def test_a_token_that_is_not_ascii_is_refused_not_a_server_error(settings: Settings) -> None:
    """``?token=%C3%A9`` used to reach ``hmac.compare_digest`` as a non-ASCII str: 500 on every route."""
    async with running_app(settings) as (app, client):
        for query in ("token=%C3%A9", "token=%E2%80%8B%F0%9F%98%80"):
            r = await client.post(f"/api/v1/centers/{C}/windows/w1/open?{query}", json={})
            assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", r.text
        r = await client.post(f"/api/v1/centers/{C}/windows/w1/open", json={},
                              headers={"Authorization": "Bearer é".encode()})
        assert r.status_code == 401, r.text


async def test_a_socket_with_a_token_that_is_not_ascii_closes_4401(settings: Settings) -> None:
    with server_process(settings) as (url, _):
        ws = await open_live(url, f"/ws/centers/{C}/display", token="é")
        assert await close_code(ws) == 4401
