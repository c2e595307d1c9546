"""PostgreSQL stopped: the calendar is held in memory, so the hours are still enforced (409 outside,
201 within); setting hours answers 503 with Retry-After and stores nothing; once PostgreSQL is back
a change reaches the instance again."""
from __future__ import annotations

import asyncio

from queue_server.clock import FixedClock
from tests.calendar.test_instances import opening_on
from tests.calendar.test_issue import C, REAL_HOURS, at, kiosk
from tests.faults.services import OwnPostgres
from tests.support import AUTH, Services, running_app


async def test_the_hours_hold_while_postgresql_is_stopped(record: tuple[OwnPostgres, Services]) -> None:
    pg, services = record
    settings = services.settings(await services.fresh_database())
    clock = FixedClock(at(12, 1, 10))
    async with running_app(settings, clock) as (_app, client):
        assert (await client.put(f"/api/v1/centers/{C}/hours", json=REAL_HOURS, headers=AUTH)).status_code == 200
        await asyncio.to_thread(pg.stop)
        try:
            assert (await kiosk(client)).status_code == 201              # 10:00: open, from memory
            clock.set(at(12, 1, 21, 58))
            closed = await kiosk(client)
            assert (closed.status_code, closed.json()["next_opening_at"]) == (409, "2026-12-02T08:30:00+08:00")
            r = await client.put(f"/api/v1/centers/{C}/hours", json={"always_open": True}, headers=AUTH)
            assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert (await kiosk(client)).status_code == 409              # nothing changed
        finally:
            await asyncio.to_thread(pg.restart)
        r = await client.put(f"/api/v1/centers/{C}/hours", json={"always_open": True}, headers=AUTH)
        for _ in range(100):   # the pool finds the restarted server again
            if r.status_code == 200:
                break
            await asyncio.sleep(0.2)
            r = await client.put(f"/api/v1/centers/{C}/hours", json={"always_open": True}, headers=AUTH)
        assert r.status_code == 200, r.text
        await opening_on(client, "open", True)
        assert (await kiosk(client)).status_code == 201
