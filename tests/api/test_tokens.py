"""Tokens are cached for minutes, yet a revoked one stops working within seconds on every process:
each asks PostgreSQL for new revocations every few seconds."""
from __future__ import annotations

import asyncio
import time

from queue_server.config import Settings
from queue_server.record.people import create_token, revoked_since, token_hash
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


async def test_the_look_for_revocations_reads_the_revoked_tokens_only(settings: Settings) -> None:
    """The look every process makes every few seconds goes through the index of revoked tokens
    (migration 082), not through every token ever made, and still finds the ones revoked since."""
    async with running_app(settings) as (app, client):
        pool = app.state.pool
        tokens = [await create_token(pool, "device", C, None, device_kind="display", label=f"hall {i}") for i in range(3)]
        _, since = await revoked_since(pool, None)
        await pool.execute("UPDATE tokens SET revoked_at = now() WHERE label = 'hall 1'")
        hashes, _ = await revoked_since(pool, since)
        assert hashes == [token_hash(tokens[1])]
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")   # a table this small would be read whole anyway
            plan = "\n".join(r[0] for r in await conn.fetch(
                "EXPLAIN SELECT token_hash FROM tokens WHERE revoked_at >= now() - interval '1 minute'"))
        assert "tokens_revoked" in plan, plan
