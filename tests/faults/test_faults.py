"""The four faults under a bounded load (two clerks at each of three centers, a kiosk and a hall
display each, about 20 s, the fault in the middle), each on services of its own that the test kills:

- a server process killed with SIGKILL (another instance serves meanwhile; it is restarted);
- Redis killed with SIGKILL and restarted with its append-only file;
- Redis killed with SIGKILL and restarted without its data;
- PostgreSQL stopped for 20 s and started again on the same data and socket.

After each: nothing acknowledged lost, no number twice, no ticket called twice, every display got
every event of its stream once across its reconnects, and the record in PostgreSQL caught up.
(Where Redis lost its data, what was lost is counted and bounded instead: see that test.)"""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import asyncpg

from queue_server.embedded import free_port
from tests.faults.conftest import Stage
from tests.faults.load import Instances, Load, check_displays, check_ledger, record_caught_up
from tests.support import server_process


def report(name: str, figures: dict) -> None:
    print(f"\n{name}: {figures}")


async def test_a_server_killed_mid_load(stage: Stage) -> None:
    settings = stage.settings
    port = free_port()
    with contextlib.ExitStack() as running:
        url_a, proc_a = running.enter_context(server_process(settings, port))
        url_b, _ = running.enter_context(server_process(settings))
        load = Load(settings, Instances([url_a, url_b]))

        async def kill_and_restart() -> None:
            os.kill(proc_a.pid, signal.SIGKILL)
            await asyncio.to_thread(proc_a.wait)
            await asyncio.sleep(2)
            await asyncio.to_thread(running.enter_context, server_process(settings, port))   # same port: clients return

        await load.run(seconds=20, fault_at=8, fault=kill_and_restart)
        await record_caught_up(settings)
        await check_displays(settings, load.ledger)
        figures = await check_ledger(settings, load.ledger)
    assert load.ledger.unanswered > 0, "no request met the killed instance: the fault was not exercised"
    report("server SIGKILL", figures)


async def test_redis_killed_and_restarted_with_its_append_only_file(stage: Stage) -> None:
    settings = stage.settings
    with server_process(settings) as (url, _):
        load = Load(settings, Instances([url]))

        async def kill_and_restart() -> None:
            await asyncio.to_thread(stage.redis.kill)
            await asyncio.sleep(2)
            await asyncio.to_thread(stage.redis.restart)

        await load.run(seconds=20, fault_at=8, fault=kill_and_restart)
        await record_caught_up(settings)
        await check_displays(settings, load.ledger)
        figures = await check_ledger(settings, load.ledger)
    assert load.ledger.statuses[503] > 0, "no request met Redis away: the fault was not exercised"
    report("Redis SIGKILL, AOF kept", figures)


async def test_postgresql_stopped_for_20_s(stage: Stage) -> None:
    settings = stage.settings
    with server_process(settings) as (url, _):
        load = Load(settings, Instances([url]))
        during: dict[str, int] = {}

        async def stop_and_start() -> None:
            before = len(load.ledger.finished)
            await asyncio.to_thread(stage.postgres.stop)
            await asyncio.sleep(20)
            during["finished_while_stopped"] = len(load.ledger.finished) - before
            await asyncio.to_thread(stage.postgres.restart)

        await load.run(seconds=30, fault_at=5, fault=stop_and_start)
        await record_caught_up(settings)
        await check_displays(settings, load.ledger)
        figures = await check_ledger(settings, load.ledger)
    assert during["finished_while_stopped"] > 0, "the queue stopped while PostgreSQL was away"
    report("PostgreSQL stopped 20 s", {**figures, **during})


async def test_redis_killed_and_restarted_without_its_data(stage: Stage) -> None:
    """No number may repeat in the day, whatever Redis loses. What is lost is only what the record
    did not hold yet: the tickets acknowledged but not recorded when Redis died."""
    settings = stage.settings
    with server_process(settings) as (url, _):
        load = Load(settings, Instances([url]))
        unrecorded: set[str] = set()

        async def kill_losing_data_and_restart() -> None:
            conn = await asyncpg.connect(settings.database_url)
            try:
                recorded = {r["id"] for r in await conn.fetch("SELECT id FROM tickets")}
            finally:
                await conn.close()
            await asyncio.to_thread(stage.redis.kill, True)
            unrecorded.update(set(load.ledger.issued) - recorded)   # with those acknowledged since the look
            await asyncio.sleep(1)
            await asyncio.to_thread(stage.redis.restart)

        await load.run(seconds=20, fault_at=8, fault=kill_losing_data_and_restart)
        await record_caught_up(settings)
        resets = await check_displays(settings, load.ledger, resets_allowed=True)
        figures = await check_ledger(settings, load.ledger, unrecorded=unrecorded)
    report("Redis SIGKILL, data lost", {**figures, "display_resets": sum(resets.values())})
