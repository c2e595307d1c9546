"""An approval past its expected date raises its reminder exactly once — on an injected clock, with
sweepers racing, and with the announcer stopped in the middle and the app started again."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg
import orjson
from redis.asyncio import Redis

from door.store import remind_overdue
from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.engine.keys import Keys
from tests.door.conftest import C, MONDAY, Cases
from tests.support import AUTH, running_app

DAY_S = 86_400


async def _reminders(settings: Settings, case_id: int) -> tuple[int, int]:
    """(overdue events on the stream, overdue transitions in the record) of the case."""
    r = Redis.from_url(settings.redis_url)
    try:
        entries = await r.xrange(Keys(settings.key_prefix).events(C))
    finally:
        await r.aclose()
    events = [orjson.loads(f[b"data"]) for _, f in entries if f[b"type"] == b"door.case"]
    conn = await asyncpg.connect(settings.database_url)
    try:
        recorded = await conn.fetchval("SELECT count(*) FROM door_transitions WHERE case_id = $1"
                                       " AND action = 'approval_overdue'", case_id)
    finally:
        await conn.close()
    return sum(1 for e in events if e["case_id"] == case_id and e["action"] == "approval_overdue"), recorded


async def test_an_overdue_approval_is_reminded_once_across_a_restart(settings: Settings) -> None:
    clock = FixedClock(MONDAY)
    settings = replace(settings, extra={"QUEUE_DOOR_APPROVAL_DAYS": "10"})
    async with running_app(settings, clock) as (app, client):
        cases = Cases(app, client, clock)
        case_id = await cases.to_tracking(["mi-004", "ca-002"])
        await cases.step(case_id, "approvals/ca-002", {"state": "approved"})
        clock.advance(10 * DAY_S)                       # the expected day itself: not overdue yet
        await remind_overdue(app.state.pool, clock.now_ms(), "Asia/Shanghai")
        assert await _reminders(settings, case_id) == (0, 0)
        clock.advance(DAY_S)
        # four sweepers at once: one reminder
        await asyncio.gather(*(remind_overdue(app.state.pool, clock.now_ms(), "Asia/Shanghai") for _ in range(4)))
        assert await _reminders(settings, case_id) == (0, 1)
        # the announcer puts it on the stream, then stops before noting that in PostgreSQL
        await app.state.door.announcer.announce()
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute("UPDATE door_transitions SET announced_at = NULL WHERE case_id = $1"
                               " AND action = 'approval_overdue'", case_id)
        finally:
            await conn.close()
        assert await _reminders(settings, case_id) == (1, 1)
    clock.advance(DAY_S)
    async with running_app(settings, clock) as (app, client):     # started again: its sweep runs at once
        await app.state.door.announcer.announce()
        assert await remind_overdue(app.state.pool, clock.now_ms(), "Asia/Shanghai") == 0
        await app.state.door.announcer.announce()
        assert await _reminders(settings, case_id) == (1, 1)
        board = (await client.get(f"/api/v1/centers/{C}/door/cases?stage=tracking", headers=AUTH)).json()["cases"]
        ours = next(c for c in board if c["id"] == case_id)
        assert ours["overdue"] and [m["overdue"] for m in ours["matters"]] == [False, True]
        assert all(c["overdue"] for c in board[:board.index(ours) + 1])   # overdue first
        # a new expected date: reminded again once it passes, and only once
        cases = Cases(app, client, clock)
        await cases.step(case_id, "approvals/mi-004", {"state": "in_review", "expected_by": "2026-12-31"})
        clock.advance(25 * DAY_S)
        for _ in range(3):
            await remind_overdue(app.state.pool, clock.now_ms(), "Asia/Shanghai")
        await app.state.door.announcer.announce()
        assert await _reminders(settings, case_id) == (2, 2)
