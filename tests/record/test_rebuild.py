"""Redis lost its data while the server was down: the next start brings the day back from PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timezone

import asyncpg

from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.support import AUTH, lose_redis_data, running_app, wait_recorded

C = "jingansi"


async def test_waiting_tickets_come_back_in_order(settings: Settings) -> None:
    clock = FixedClock(datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc))
    async with running_app(settings, clock) as (app, client):
        await client.post(f"/api/v1/centers/{C}/windows/w1/open", headers=AUTH, json={"staff_id": f"{C}-s01"})
        ids = []
        for i in range(12):
            clock.advance(30)
            body = {"matter": "hrss-004" if i % 4 == 0 else "hrss-001", "priority": "priority" if i % 5 == 0 else "normal",
                    "phone": "13900001111"}
            ids.append((await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json=body)).json()["id"])
        at_window = (await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH)).json()["ticket"]["id"]
        await client.post(f"/api/v1/tickets/{ids[3]}/cancel", headers=AUTH)
        pool: asyncpg.Pool = app.state.pool
        await wait_recorded(pool, settings.redis_url, settings, C)

    lose_redis_data(settings)

    async with running_app(settings, clock) as (app, client):
        queue = (await client.get(f"/api/v1/centers/{C}/queue")).json()
        w1 = next(w for w in queue["windows"] if w["id"] == "w1")
        assert w1["state"] == "open" and w1["current"] == at_window and w1["staff_id"] == f"{C}-s01"
        waiting = {t["id"] for t in queue["tickets"] if t["status"] == "waiting"}
        assert waiting == set(ids) - {at_window, ids[3]}
        restored = await client.get(f"/api/v1/tickets/{ids[5]}")
        assert restored.json()["phone_masked"] == "139****1111"
        new = (await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})).json()
        issued_a = [int(i.rsplit("-", 1)[1][1:]) for i in ids if i.rsplit("-", 1)[1][0] == "A"]
        assert new["number"][0] == "A" and int(new["number"][1:]) > max(issued_a)  # above the reservation
        await client.post(f"/api/v1/tickets/{at_window}/start", headers=AUTH)
        await client.post(f"/api/v1/tickets/{at_window}/finish", headers=AUTH)
        order = []
        while (r := await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH)).status_code == 200:
            t = r.json()["ticket"]
            order.append(t)
            await client.post(f"/api/v1/tickets/{t['id']}/no-show", headers=AUTH)
        called_ids = [t["id"] for t in order]
        assert set(called_ids) == waiting | {new["id"]}
        # within each class, the original issue order survived the rebuild
        for cls in ("priority", "normal"):
            times = [t["issued_at"] for t in order if t["priority"] == cls]
            assert times == sorted(times)


async def test_redis_losing_its_data_while_running_pauses_numbering_then_restores(settings: Settings) -> None:
    import asyncio

    clock = FixedClock(datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc))
    async with running_app(settings, clock) as (app, client):
        first = [(await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})).json()
                 for _ in range(3)]
        await wait_recorded(app.state.pool, settings.redis_url, settings, C)
        lose_redis_data(settings)
        statuses = set()
        for _ in range(100):  # never a repeated number: refused until the persister has restored the day
            r = await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})
            statuses.add(r.status_code)
            if r.status_code == 201:
                break
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            assert r.headers["content-type"].startswith("application/problem+json")
            await asyncio.sleep(0.1)
        assert r.status_code == 201 and int(r.json()["number"][1:]) > 3
        assert {t["id"] for t in (await client.get(f"/api/v1/centers/{C}/queue")).json()["tickets"]} >= {t["id"] for t in first}
