"""PostgreSQL stopped: the queue lives in Redis, so kiosks, clerks, screens and tablets keep working
from cached tokens; only what truly needs the record (a token never seen, a rating, a staff lookup)
answers 503 with Retry-After — never 401 for a good token, never 500 — and the record catches up."""
from __future__ import annotations

import asyncio
import logging
import secrets
import time

import asyncpg
import httpx
import pytest

from queue_server.api.auth import TokenCache
from queue_server.api.problems import Unavailable
from queue_server.record.people import create_token
from tests.faults.load import record_caught_up
from tests.faults.services import OwnPostgres
from tests.realtime.live import C, Api, open_live, receive
from tests.support import Services, server_process

DISPLAY = f"/ws/centers/{C}/display"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["content-type"] == "application/problem+json"


async def test_the_queue_keeps_working_while_postgresql_is_stopped(record: tuple[OwnPostgres, Services]) -> None:
    pg, services = record
    settings = services.settings(await services.fresh_database())
    with server_process(settings) as (url, _):
        async with Api(url) as admin:
            clerk = httpx.AsyncClient(base_url=url, headers=bearer(await admin.token("staff", "w1", staff=f"{C}-s01")))
            kiosk = httpx.AsyncClient(base_url=url, headers=bearer(await admin.token("device", device="kiosk")))
            tablet = httpx.AsyncClient(base_url=url, headers=bearer(await admin.token("device", "w1", device="tablet")))
            display = await admin.token("device", device="display")
            async with clerk, kiosk, tablet:
                for client in (clerk, kiosk, tablet):   # each token seen once: it is in the cache
                    assert (await client.get(f"/api/v1/tickets/{C}-nope")).status_code == 404
                ws = await open_live(url, DISPLAY, token=display)   # the hall's screen, connected before
                assert (await receive(ws))["type"] == "snapshot"
                await ws.close()
                assert (await clerk.post(f"/api/v1/centers/{C}/windows/w1/open", json={})).status_code == 200
                issued: list[str] = []

                async def serve_one() -> str:
                    r = await kiosk.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"})
                    assert r.status_code == 201, r.text
                    issued.append(r.json()["id"])
                    r = await clerk.post(f"/api/v1/centers/{C}/windows/w1/call-next")
                    assert r.status_code == 200, r.text
                    tid = r.json()["ticket"]["id"]
                    for action in ("start", "finish"):
                        assert (await clerk.post(f"/api/v1/tickets/{tid}/{action}")).status_code == 200
                    r = await kiosk.get(f"/api/v1/tickets/{tid}")
                    assert r.status_code == 200 and r.json()["status"] == "finished"
                    return tid

                await serve_one()
                await asyncio.to_thread(pg.stop)
                try:
                    # past several revocation look-ups (every 5 s), each of which now fails
                    until = time.monotonic() + 12
                    while time.monotonic() < until:
                        last = await serve_one()
                        await asyncio.sleep(0.2)
                    ws = await open_live(url, DISPLAY, token=display)
                    snapshot = await receive(ws)
                    assert snapshot["type"] == "snapshot"
                    await ws.close()

                    assert_unavailable(await tablet.post("/api/v1/reviews",
                                                         json={"ticket_id": last, "level": 5, "channel": "tablet"}))
                    stranger = httpx.AsyncClient(base_url=url, headers=bearer(f"qs_{secrets.token_urlsafe(24)}"))
                    async with stranger:
                        assert_unavailable(await stranger.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}))
                    assert_unavailable(await admin.http.post(f"/api/v1/centers/{C}/windows/w2/open",
                                                             json={"staff_id": f"{C}-s02"}))
                finally:
                    await asyncio.to_thread(pg.restart)

                deadline = time.monotonic() + 60
                while (r := await tablet.post("/api/v1/reviews",
                                              json={"ticket_id": last, "level": 5, "channel": "tablet"})).status_code != 201:
                    assert r.status_code == 503 and time.monotonic() < deadline, r.text
                    await asyncio.sleep(float(r.headers["retry-after"]))
                async with httpx.AsyncClient(base_url=url, headers=bearer("qs_no-such-token")) as stranger:
                    while (r := await stranger.post(f"/api/v1/centers/{C}/windows/w1/call-next")).status_code != 401:
                        assert r.status_code == 503 and time.monotonic() < deadline, r.text
                        await asyncio.sleep(float(r.headers["retry-after"]))
        # what was done while the record was away is in it now: written by this server's persister, which
        # may still be waiting out its supervisor's backoff from the outage, so it must still be running
        await record_caught_up(settings)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        assert await pool.fetchval("SELECT count(*) FROM tickets WHERE status = 'finished'") == len(issued)
        assert await pool.fetchval("SELECT count(*) FROM events WHERE type = 'ticket.called'") == len(issued)
    finally:
        await pool.close()


async def test_tokens_while_postgresql_is_away_are_served_from_the_cache_and_it_is_said_once(
        record: tuple[OwnPostgres, Services], caplog: pytest.LogCaptureFixture) -> None:
    pg, services = record
    pool = await asyncpg.create_pool(await services.fresh_database(), min_size=1, max_size=4)
    try:
        tokens = TokenCache(pool, None)
        kept = await create_token(pool, "device", C, "w1", device_kind="tablet", label="kept")
        revoked = await create_token(pool, "device", C, "w2", device_kind="tablet", label="revoked meanwhile")
        await tokens.preload()
        caplog.set_level(logging.WARNING, logger="queue_server.api")
        await asyncio.to_thread(pg.stop)
        try:
            until = time.monotonic() + 12     # more than two revocation look-ups, each failing
            while time.monotonic() < until:
                assert (await tokens.resolve(kept)).label == "kept"
                with pytest.raises(Unavailable) as refused:
                    await tokens.resolve(f"qs_{secrets.token_urlsafe(24)}")
                assert refused.value.status == 503 and refused.value.retry_after_s >= 1
                await asyncio.sleep(0.05)
            away = [r for r in caplog.records if "away" in r.getMessage()]
            assert len(away) == 1 and away[0].exc_info is None   # said once, without a traceback
        finally:
            await asyncio.to_thread(pg.restart)
        await pool.execute("UPDATE tokens SET revoked_at = now() WHERE label = 'revoked meanwhile'")
        deadline = time.monotonic() + 60
        while await tokens.resolve(revoked) is not None:
            assert time.monotonic() < deadline, "a revocation made after the outage was never seen"
            await asyncio.sleep(0.2)
        assert (await tokens.resolve(kept)).label == "kept"
        assert any("back" in r.getMessage() for r in caplog.records)
    finally:
        await pool.close()
