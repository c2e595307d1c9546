"""The center's live figures count its open door-to-door cases by stage and those with an overdue
approval, from the door.case events; warmed from PostgreSQL at start, so a Redis that lost its data
loses none of them."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import httpx

from door.store import remind_overdue
from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.door.conftest import C, MONDAY, Cases, phone
from tests.support import AUTH, lose_redis_data, running_app

DEMO = {"discovered": 1, "approved": 1, "scheduled": 1, "tracking": 1, "overdue": 1}   # door/demo.py


async def _door(client: httpx.AsyncClient, want: dict[str, int]) -> dict[str, Any]:
    for _ in range(100):
        r = await client.get(f"/api/v1/ops/figures?center={C}", headers=AUTH)
        assert r.status_code == 200, r.text
        found = r.json()["centers"][C]["door"]
        if found == want:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"door figures stayed {found}, not {want}")


def _plus(**more: int) -> dict[str, int]:
    return {k: v + more.get(k, 0) for k, v in DEMO.items()}


async def test_the_dashboard_follows_door_cases_and_keeps_them_across_a_redis_loss(settings: Settings) -> None:
    clock = FixedClock(MONDAY)
    settings = replace(settings, extra={"QUEUE_DOOR_APPROVAL_DAYS": "1"})
    async with running_app(settings, clock) as (app, client):
        cases = Cases(app, client, clock)
        await _door(client, DEMO)
        case_id = (await cases.discover(phone(), ["mi-004"]))["case_id"]
        await _door(client, _plus(discovered=1))
        await cases.step(case_id, "review", {"decision": "approve"})
        await _door(client, _plus(approved=1))
        await cases.book(case_id)
        await _door(client, _plus(scheduled=1))
        await cases.step(case_id, "visit", cases.record(), 201)
        await _door(client, _plus(tracking=1))
        clock.advance(3 * 86_400)
        await remind_overdue(app.state.pool, clock.now_ms(), "Asia/Shanghai")
        await app.state.door.announcer.announce()
        await _door(client, _plus(tracking=1, overdue=1))
    lose_redis_data(settings)
    async with running_app(settings, clock) as (app, client):
        await _door(client, _plus(tracking=1, overdue=1))
        cases = Cases(app, client, clock)
        await cases.step(case_id, "approvals/mi-004", {"state": "in_review"})     # still overdue
        await _door(client, _plus(tracking=1, overdue=1))
        await cases.step(case_id, "approvals/mi-004", {"state": "approved"})
        await _door(client, _plus(tracking=1))
        await cases.step(case_id, "close", {})
        await _door(client, DEMO)
