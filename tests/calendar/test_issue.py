"""Opening hours enforced on the ticket issue, on real Redis and PostgreSQL with an injected clock:
outside hours 409 with the next opening and nothing written (no number taken, no event), staff still
call those waiting and may issue on the staff channel, a holiday keeps the holiday hours, an adjusted
workday opens, the operator's file closes a day, a 24-hour point takes tickets at 03:00, and hours
that cannot be are refused without a write."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from queue_server.record.calendar import store_calendar_file
from tests.support import AUTH, running_app

SH = ZoneInfo("Asia/Shanghai")
C = "jingansi"
REAL_HOURS = {"weekdays": ["08:30", "16:30"], "weekends_holidays": ["08:30", "11:30"]}


def at(m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=SH)


async def kiosk(client: httpx.AsyncClient, **extra: Any) -> httpx.Response:
    return await client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001", "channel": "kiosk", **extra},
                             headers=AUTH)


class Hall:
    """The app on a fixed clock with the center's real hours, and what Redis holds for it."""

    def __init__(self, client: httpx.AsyncClient, clock: FixedClock, redis: Redis, keys: Keys) -> None:
        self.client, self.clock, self.redis, self.keys = client, clock, redis, keys

    async def written(self, day: str) -> tuple[Any, int]:
        """The day's number sequence and the center's stream length: both unchanged by a refusal."""
        return await self.redis.dump(self.keys.sequence(C, day)), await self.redis.xlen(self.keys.events(C))


@pytest.fixture
async def hall(settings: Settings) -> AsyncIterator[Hall]:
    clock = FixedClock(at(12, 1, 10))
    async with running_app(settings, clock) as (_app, client):
        r = await client.put(f"/api/v1/centers/{C}/hours", json=REAL_HOURS, headers=AUTH)
        assert r.status_code == 200, r.text
        redis = redis_client(settings.redis_url)   # type: ignore[arg-type]
        try:
            yield Hall(client, clock, redis, Keys(settings.key_prefix))
        finally:
            await redis.aclose()


async def test_outside_hours_409_with_the_next_opening_and_nothing_written(hall: Hall) -> None:
    first = await hall.client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"},
                                   headers={**AUTH, "Idempotency-Key": "before-closing"})
    assert first.status_code == 201, first.text                      # Tuesday 10:00: open
    assert (await hall.client.post(f"/api/v1/centers/{C}/windows/w1/open", json={"staff_id": f"{C}-s01"},
                                   headers=AUTH)).status_code == 200
    hall.clock.set(at(12, 1, 21, 58))                                 # the 21:58 ticket
    before = await hall.written("20261201")
    for extra in ({}, {"channel": "app"}, {"channel": "service_point", "service_point": "sp1"},
                  {"phone": "13812345678"}):
        r = await kiosk(hall.client, **extra, **({} if "channel" in extra else {}))
        assert r.status_code == 409, r.text
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert (body["code"], body["next_opening_at"]) == ("closed", "2026-12-02T08:30:00+08:00")
        assert body["next_opening"] == "12月2日 周三 08:30 / Wed 2 Dec 08:30"
    again = await hall.client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"},
                                   headers={**AUTH, "Idempotency-Key": "late-1"})
    assert again.status_code == 409
    assert await hall.written("20261201") == before                  # no number taken, no event
    assert await hall.redis.exists(hall.keys.idempotency(C, "late-1")) == 0
    retry = await hall.client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"},
                                   headers={**AUTH, "Idempotency-Key": "before-closing"})
    assert (retry.status_code, retry.json()["id"]) == (200, first.json()["id"])   # a lost answer's retry: its ticket
    assert await hall.written("20261201") == before

    called = await hall.client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH)
    assert called.status_code == 200 and called.json()["ticket"]["id"] == first.json()["id"]   # staff still call
    staff = await hall.client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001", "channel": "staff"},
                                   headers=AUTH)
    assert staff.status_code == 201, staff.text                      # and may issue on the staff channel

    device = (await hall.client.post("/api/v1/tokens", json={"center": C, "role": "device", "device_kind": "kiosk"},
                                     headers=AUTH)).json()["token"]
    r = await hall.client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001", "channel": "staff"},
                               headers={"Authorization": f"Bearer {device}"})
    assert r.status_code == 409                                       # a kiosk cannot claim to be staff

    shown = (await hall.client.get(f"/api/v1/centers/{C}/opening")).json()
    assert (shown["open"], shown["next_opening_at"], shown["hours"]) == (False, "2026-12-02T08:30:00+08:00", REAL_HOURS)
    assert (await hall.client.get(f"/api/v1/centers/{C}")).json()["hours"] == REAL_HOURS   # the hours just set
    hall.clock.set(at(12, 2, 8, 30))
    assert (await kiosk(hall.client)).status_code == 201


async def test_a_holiday_keeps_the_holiday_hours(hall: Hall) -> None:
    hall.clock.set(at(10, 5, 10))                                     # National Day, a Monday: 8:30-11:30
    assert (await kiosk(hall.client)).status_code == 201
    hall.clock.set(at(10, 5, 14))
    r = await kiosk(hall.client)
    assert r.status_code == 409
    assert (r.json()["next_opening_at"], r.json()["reason"]) == ("2026-10-06T08:30:00+08:00", "National Day")


async def test_an_adjusted_workday_opens_with_the_workday_hours(hall: Hall) -> None:
    hall.clock.set(at(10, 10, 15))                                    # Saturday worked in lieu (调休)
    assert (await kiosk(hall.client)).status_code == 201
    hall.clock.set(at(10, 17, 15))                                    # an ordinary Saturday afternoon
    r = await kiosk(hall.client)
    assert (r.status_code, r.json()["next_opening_at"]) == (409, "2026-10-18T08:30:00+08:00")


async def test_a_local_closure_from_the_calendar_file_closes(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(f'[[closed]]\ncenter = "{C}"\nfrom = "2026-12-03"\nreason = "消防演练 fire drill"\n\n'
                    f'[[hours]]\ncenter = "{C}"\nweekdays = ["08:30", "16:30"]\nweekends_holidays = ["08:30", "11:30"]\n',
                    encoding="utf-8")
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await store_calendar_file(conn, path) == {"official": 0, "closed": 1, "hours": 1}
    finally:
        await conn.close()
    async with running_app(settings, FixedClock(at(12, 3, 10))) as (_app, client):
        r = await kiosk(client)
        assert r.status_code == 409
        assert (r.json()["next_opening_at"], r.json()["reason"]) == ("2026-12-04T08:30:00+08:00", "消防演练 fire drill")


async def test_a_24_hour_point_takes_tickets_at_three_in_the_morning(hall: Hall) -> None:
    r = await hall.client.put(f"/api/v1/centers/{C}/points/sp1/hours", json={"always_open": True}, headers=AUTH)
    assert r.status_code == 200 and r.json()["hours"] == {"weekdays": None, "weekends_holidays": None, "always_open": True}
    hall.clock.set(at(12, 1, 3))
    clerk = await hall.client.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": f"{C}-s03"}, headers=AUTH)
    assert clerk.status_code == 200, clerk.text                      # the remote window serving sp1 (night shift)
    point = await kiosk(hall.client, channel="service_point", service_point="sp1")
    assert point.status_code == 201, point.text
    assert (await kiosk(hall.client)).status_code == 409              # the hall itself is closed
    shown = (await hall.client.get(f"/api/v1/centers/{C}/opening?point=sp1")).json()
    assert shown["open"] and shown["closes_at"] == "2026-12-02T00:00:00+08:00"
    back = await hall.client.put(f"/api/v1/centers/{C}/points/sp1/hours", json={}, headers=AUTH)
    assert back.json()["hours"] == REAL_HOURS                         # an empty body: its center's hours again
    assert (await kiosk(hall.client, channel="service_point", service_point="sp1")).status_code == 409


@pytest.mark.parametrize("hours, field", [
    ({"weekdays": ["16:30", "08:30"]}, "weekdays"),
    ({"weekdays": ["08:30", "16:30"], "sat": ["11:30", "11:30"]}, "sat"),
    ({"weekends_holidays": ["08:30", "25:00"]}, "weekends_holidays"),
    ({"weekdays": ["8.30", "16:30"]}, "weekdays.0"),
    ({"weekdays": "always"}, "weekdays"),
    ({"always_open": True, "lunch": ["12:00", "13:00"]}, "lunch"),
])
async def test_hours_that_end_before_they_begin_are_refused_and_nothing_written(
        hall: Hall, settings: Settings, hours: dict, field: str) -> None:
    for path in (f"/api/v1/centers/{C}/hours", f"/api/v1/centers/{C}/points/sp1/hours"):
        r = await hall.client.put(path, json=hours, headers=AUTH)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] == field
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert json.loads(await conn.fetchval("SELECT hours FROM centers WHERE code = $1", C)) == REAL_HOURS
        assert await conn.fetchval("SELECT count(*) FROM point_hours") == 0
    finally:
        await conn.close()
    assert (await hall.client.put(f"/api/v1/centers/{C}/points/nowhere/hours", json={}, headers=AUTH)).status_code == 404
