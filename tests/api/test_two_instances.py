"""Two server processes on one Redis and one PostgreSQL: every invariant holds across them."""
from __future__ import annotations

import asyncio
import itertools

import asyncpg
import httpx
import pytest

from queue_server.config import Settings
from tests.support import AUTH, on_a_service_day, server_process, service_day, wait_recorded

C = "jingansi"
WINDOWS = ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every process of these tests on one service day: a run across Shanghai midnight changes nothing."""
    return on_a_service_day(settings)


async def test_two_instances_keep_every_invariant(settings: Settings) -> None:
    with server_process(settings) as (url_a, _), server_process(settings) as (url_b, _):
        # generous timeouts: 400 concurrent requests on a busy 2-core machine; speed is the benchmarks' business
        async with httpx.AsyncClient(base_url=url_a, headers=AUTH, timeout=60) as a, \
                httpx.AsyncClient(base_url=url_b, headers=AUTH, timeout=60) as b:
            clients = itertools.cycle([a, b])
            for i, w in enumerate(WINDOWS):
                r = await next(clients).post(f"/api/v1/centers/{C}/windows/{w}/open", json={"staff_id": f"{C}-s0{i + 1}"})
                assert r.status_code == 200
            issued = await asyncio.gather(*(
                next(clients).post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001" if i % 3 else "hrss-004"},
                                   headers={"Idempotency-Key": f"k{i % 350}"})
                for i in range(400)))
            assert {r.status_code for r in issued} <= {200, 201}
            ids = {r.json()["id"] for r in issued}
            assert len(ids) == 350  # the 50 repeated keys gave the first ticket again, whichever instance saw them
            numbers = [i.rsplit("-", 1)[1] for i in ids]
            assert len(set(numbers)) == len(numbers)
            assert {i.split("-")[1] for i in ids} == {service_day(settings)}   # both processes on the test's day

            called: list[str] = []

            async def window(w: str, client: httpx.AsyncClient) -> None:
                while (r := await client.post(f"/api/v1/centers/{C}/windows/{w}/call-next")).status_code == 200:
                    tid = r.json()["ticket"]["id"]
                    called.append(tid)
                    assert (await client.post(f"/api/v1/tickets/{tid}/start")).status_code == 200
                    assert (await client.post(f"/api/v1/tickets/{tid}/finish")).status_code == 200
                assert r.status_code == 204

            await asyncio.gather(*(window(w, a if i % 2 else b) for i, w in enumerate(WINDOWS)))
            assert sorted(called) == sorted(ids)

        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            recorded = await wait_recorded(pool, settings.redis_url, settings, C)
            assert recorded == 8 + 350 + 3 * 350
            finished = await pool.fetchval("SELECT count(*) FROM tickets WHERE center = $1 AND status = 'finished'", C)
            assert finished == 350
            dup = await pool.fetchval("SELECT count(*) FROM (SELECT ticket_id FROM events WHERE type = 'ticket.called'"
                                      " GROUP BY ticket_id HAVING count(*) > 1) d")
            assert dup == 0
        finally:
            await pool.close()
