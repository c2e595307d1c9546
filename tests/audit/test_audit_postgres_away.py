"""PostgreSQL stopped while clerks work (the queue goes on from Redis and cached tokens): their actions
are audited all the same — kept by each server while the record is away and written once it is back,
each once, none lost."""
from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from tests.faults.services import OwnPostgres
from tests.realtime.live import C, Api
from tests.support import Services, server_process


async def test_actions_taken_while_postgresql_is_stopped_are_audited_once_it_is_back(
        record: tuple[OwnPostgres, Services]) -> None:
    pg, services = record
    settings = services.settings(await services.fresh_database())
    done: list[tuple[str, int]] = []
    with server_process(settings) as (url, _):
        async with Api(url) as admin:
            token = await admin.token("staff", "w1", staff=f"{C}-s01")
            kiosk_token = await admin.token("device", device="kiosk")
            async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as clerk, \
                    httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {kiosk_token}"}) as kiosk:

                async def act(path: str) -> str:
                    r = await clerk.post(path, json={})
                    assert r.status_code == 200, r.text
                    done.append((path.rsplit("/", 1)[1], r.status_code))
                    return r.json().get("ticket", {}).get("id", "")

                async def serve_one() -> None:
                    assert (await kiosk.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"})).status_code == 201
                    tid = await act(f"/api/v1/centers/{C}/windows/w1/call-next")
                    await act(f"/api/v1/tickets/{tid}/start")
                    await act(f"/api/v1/tickets/{tid}/finish")

                await act(f"/api/v1/centers/{C}/windows/w1/open")
                await serve_one()            # the kiosk's token seen once: it is in the cache
                await asyncio.to_thread(pg.stop)
                try:
                    for _ in range(8):
                        await serve_one()
                        await asyncio.sleep(0.1)
                finally:
                    await asyncio.to_thread(pg.restart)
                pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
                try:
                    deadline = time.monotonic() + 60
                    while await pool.fetchval("SELECT count(*) FROM audit_log WHERE actor = $1", f"{C}-s01") < len(done):
                        assert time.monotonic() < deadline, "the audit entries of the outage never came"
                        await asyncio.sleep(0.2)
                    await asyncio.sleep(1)   # and no more than that: nothing written twice
                    rows = await pool.fetch("SELECT action, outcome FROM audit_log WHERE actor = $1 ORDER BY at, id",
                                            f"{C}-s01")
                finally:
                    await pool.close()
    assert [(r["action"].rsplit("/", 1)[1], r["outcome"]) for r in rows] == done
