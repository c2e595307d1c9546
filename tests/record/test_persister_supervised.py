"""The persister under the app's supervisor: whatever fails, it comes back — also when the restore
after a Redis that lost its data (NOGROUP) fails, which used to end its task for good."""
from __future__ import annotations

import asyncio
import time

from queue_server.clock import SystemClock
from queue_server.config import Settings
from queue_server.engine.queue_engine import EngineError
from queue_server.record.persister import Persister, ensure_groups
from queue_server.record.rebuild import rebuild_if_lost
from queue_server.supervisor import Backoff, Supervisor
from tests.support import engine_for, lose_redis_data

C = "jingansi"


async def recorded_events(pool, ticket_id: str) -> int:  # type: ignore[no-untyped-def]
    return await pool.fetchval("SELECT count(*) FROM events WHERE ticket_id = $1", ticket_id)


async def test_the_persister_survives_a_failing_restore_after_redis_lost_its_data(settings: Settings) -> None:
    clock = SystemClock()
    async with engine_for(settings, clock) as engine:
        keys, redis, pool = engine.keys, engine.redis, engine.pool
        restores: list[str] = []
        lost = asyncio.Event()

        async def restore() -> None:
            """Once Redis has lost its data, PostgreSQL is away for the first two attempts."""
            if lost.is_set() and len(restores) < 2:
                restores.append("failed")
                raise OSError("PostgreSQL away")
            await rebuild_if_lost(redis, pool, keys, engine.catalog, clock)
            await engine.sync_catalog()
            if lost.is_set():
                restores.append("done")

        await ensure_groups(redis, keys, [C])
        persister = Persister(redis, pool, keys, [C], name="p", block_ms=100, on_lost=restore)
        work = Supervisor(Backoff(first_s=0.01, cap_s=0.05))
        work.run("persister", lambda: persister.run(work.stop))
        try:
            before = (await engine.issue(C, "hrss-001", "kiosk")).ticket["id"]
            deadline = time.monotonic() + 20
            while await recorded_events(pool, before) < 1:
                assert time.monotonic() < deadline, "the first ticket was never recorded"
                await asyncio.sleep(0.05)

            lost.set()
            lose_redis_data(settings)
            deadline = time.monotonic() + 20
            while "done" not in restores:
                assert time.monotonic() < deadline, f"the restore was not tried again: {restores}"
                await asyncio.sleep(0.05)
            assert restores == ["failed", "failed", "done"]
            assert work.tasks["persister"].restarts >= 2

            after = None
            while after is None:                     # the hot state is back: tickets are numbered again
                try:
                    after = (await engine.issue(C, "hrss-001", "kiosk")).ticket["id"]
                except EngineError:
                    assert time.monotonic() < deadline, "tickets are still refused after the restore"
                    await asyncio.sleep(0.05)
            while await recorded_events(pool, after) < 1:
                assert time.monotonic() < deadline, "the persister did not go on recording after the restore"
                await asyncio.sleep(0.05)
        finally:
            await work.close()
