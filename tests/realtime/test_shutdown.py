"""An instance stopping (SIGTERM, as Docker and systemd stop it) hands its work to the others: every
screen on it is closed with 1012 "service restart" at once — not at the end of the shutdown — and
resumes on another instance with its cursor, missing nothing; the requests it acknowledged are all
recorded; and its stream consumers (the record, the residents' notices) leave nothing pending under
their name, so no batch waits for another consumer to take it over."""
from __future__ import annotations

import asyncio
import signal
import socket

import asyncpg
import httpx

from queue_server.cli import GRACEFUL_SHUTDOWN_S
from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from queue_server.record.persister import GROUP as RECORD
from residents.notices import GROUP as NOTICES
from tests.realtime.live import C, Api, close_code, open_live, receive, receive_n, reconcile
from tests.support import AUTH, server_process, wait_recorded

DISPLAY = f"/ws/centers/{C}/display"
SERVICE_RESTART = 1012     # the close code live.js answers by reconnecting with its cursor at once


async def issue_until_refused(base: str, issued: list[str]) -> None:
    """Issue tickets and call them one after another until the instance stops answering; every
    ticket acknowledged (201) is noted."""
    async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=10) as http:
        while True:
            try:
                r = await http.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"})
                if r.status_code != 201:
                    return
                issued.append(r.json()["id"])
                await http.post(f"/api/v1/centers/{C}/windows/w3/call-next")   # events for every consumer
            except httpx.HTTPError:
                return


async def test_a_stopping_instance_sends_its_screens_elsewhere_and_leaves_nothing_pending(settings: Settings) -> None:
    with server_process(settings) as (url_b, _), server_process(settings) as (url_a, proc_a):
        async with Api(url_a) as api_a:
            await api_a.open_window("w3")
            ws = await open_live(url_a, DISPLAY)
            snap = await receive(ws)
            await api_a.issue()
            seen = await receive(ws)
            issued: list[str] = []
            load = asyncio.create_task(issue_until_refused(url_a, issued))
            while len(issued) < 20:            # the instance is busy when it is told to stop
                await asyncio.sleep(0.05)
            # PostgreSQL slowed down: the instance's persister has a batch in hand, not yet recorded nor acked
            lock = await asyncpg.connect(settings.database_url)
            held = lock.transaction()
            await held.start()
            await lock.execute("LOCK TABLE events IN EXCLUSIVE MODE")
            while not await lock.fetchval("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                          " AND query LIKE 'INSERT INTO events%'"):
                await lock.execute("SELECT pg_stat_clear_snapshot()")   # a transaction sees one snapshot of it
                await asyncio.sleep(0.05)
            proc_a.send_signal(signal.SIGTERM)
            # told to come back elsewhere while the instance is still shutting down, not when it is gone
            assert await close_code(ws, timeout=GRACEFUL_SHUTDOWN_S / 2) == SERVICE_RESTART
            await load
            await asyncio.sleep(1.0)           # the instance is in its shutdown: then PostgreSQL recovers
            await held.rollback()
            await lock.close()
            # uvicorn raises the signal again once its shutdown is done, so the process ends "by SIGTERM"
            assert await asyncio.to_thread(proc_a.wait, GRACEFUL_SHUTDOWN_S + 15) in (0, -signal.SIGTERM)
        consumer = f"{socket.gethostname()}-{proc_a.pid}"

        async with Api(url_b) as api_b:
            made = [(await api_b.issue())["id"] for _ in range(3)]
            ws = await open_live(url_b, DISPLAY, cursor=seen["id"], epoch=snap["epoch"])
            assert await receive(ws) == {"type": "resume", "cursor": seen["id"], "epoch": snap["epoch"]}
            missed = []
            while not missed or missed[-1]["ticket"]["id"] != made[-1]:
                missed += await receive_n(ws, 1)
            assert {e["ticket"]["id"] for e in missed if e["type"] == "ticket.issued"} >= set(issued + made)
            await reconcile(ws, api_b, settings, seen["id"], missed)   # every event after the cursor, once, in order
            await ws.close()

        r = redis_client(settings.redis_url)   # type: ignore[arg-type]
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            stream = Keys(settings.key_prefix).events(C)
            for group in (RECORD, NOTICES):
                left = await r.xpending_range(stream, group, min="-", max="+", count=1000, consumername=consumer)
                assert left == [], f"{group}: the stopped instance left {len(left)} entries pending"
            assert await wait_recorded(pool, settings.redis_url, settings, C) == await r.xlen(stream)  # type: ignore[arg-type]
            recorded = {row["id"] for row in await pool.fetch("SELECT id FROM tickets WHERE id = any($1)", issued)}
            assert recorded == set(issued)     # every ticket the stopped instance acknowledged is in the record
        finally:
            await r.aclose()
            await pool.close()
