"""A request's statement on the pool (record/pooled.py): answered before its connection is back, the
connection back all the same — after an answer, a refusal, a cancelled request or a connection that
died under it — so many at once never run the pool dry, and the pool closes."""
from __future__ import annotations

import asyncio

import asyncpg
import pytest

from queue_server.record.pooled import _releasing, fetchrow


async def settled(pool: asyncpg.Pool) -> None:
    """Until every connection handed back in the background is in the pool again."""
    while _releasing:
        await asyncio.gather(*_releasing, return_exceptions=True)
    assert pool.get_idle_size() == pool.get_size()


async def test_many_at_once_on_a_small_pool_each_answered_and_every_connection_back(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)
    try:
        rows = await asyncio.gather(*(fetchrow(pool, "SELECT $1::int AS n, pg_sleep(0.01)", i) for i in range(60)))
        assert [r["n"] for r in rows] == list(range(60))
        await settled(pool)
        async with pool.acquire() as conn:   # on a connection, it is the connection's own
            assert (await fetchrow(conn, "SELECT 7 AS n"))["n"] == 7
    finally:
        await asyncio.wait_for(pool.close(), 10)


async def test_a_refused_cancelled_or_broken_statement_gives_its_connection_back(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await fetchrow(pool, "SELECT * FROM no_such_table")
        slow = asyncio.create_task(fetchrow(pool, "SELECT pg_sleep(5)"))
        await asyncio.sleep(0.2)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        with pytest.raises(asyncpg.ConnectionDoesNotExistError):   # its backend killed under it
            await fetchrow(pool, "SELECT pg_terminate_backend(pg_backend_pid())")
        await settled(pool)
        assert (await fetchrow(pool, "SELECT 1 AS n"))["n"] == 1   # a fresh connection where one died
    finally:
        await asyncio.wait_for(pool.close(), 10)
