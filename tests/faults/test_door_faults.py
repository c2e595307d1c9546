"""Door-to-door steps when a backing service is away, on services the test kills: with Redis away a
step is still taken and answered (PostgreSQL holds it), and its event goes out once when Redis is
back; with PostgreSQL away a step is 503 with nothing written, and taken once when it is back."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import orjson

from tests.door.conftest import C, phone
from tests.faults.conftest import Stage
from tests.support import AUTH, running_app

CASE = {"resident_name": "孙阿婆", "address": "静安区", "matters": ["mi-004"], "reason": "elderly", "source": "grid"}


async def _door_events(app, case_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    entries = await app.state.redis.xrange(app.state.keys.events(C))
    found = [orjson.loads(f[b"data"]) for _, f in entries if f[b"type"] == b"door.case"]
    return [e["action"] for e in found if e["case_id"] == case_id]


async def test_a_step_while_redis_is_away_is_taken_and_announced_once_after(stage: Stage) -> None:
    settings = replace(stage.settings, extra={**stage.settings.extra, "QUEUE_DOOR_SWEEP_S": "0.2"})
    async with running_app(settings) as (app, client):
        r = await client.post(f"/api/v1/centers/{C}/door/cases", json={**CASE, "phone": phone()}, headers=AUTH)
        case_id = r.json()["case_id"]
        await asyncio.to_thread(stage.redis.kill)
        r = await client.post(f"/api/v1/door/cases/{case_id}/review", json={"decision": "approve"}, headers=AUTH)
        assert r.status_code == 200 and r.json()["stage"] == "approved", r.text
        again = await client.post(f"/api/v1/door/cases/{case_id}/review", json={"decision": "approve"}, headers=AUTH)
        assert again.status_code == 409
        await asyncio.to_thread(stage.redis.restart)
        for _ in range(100):
            try:
                if "approve" in await _door_events(app, case_id):
                    break
            except Exception:   # the client reconnecting
                pass
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.6)                       # a few more sweeps: nothing repeats
        assert await _door_events(app, case_id) == ["discover", "approve"]


async def test_a_step_while_postgresql_is_away_writes_nothing_then_once(stage: Stage) -> None:
    async with running_app(stage.settings) as (app, client):
        r = await client.post(f"/api/v1/centers/{C}/door/cases", json={**CASE, "phone": phone()}, headers=AUTH)
        case_id = r.json()["case_id"]
        await asyncio.to_thread(stage.postgres.stop)
        try:
            r = await client.post(f"/api/v1/door/cases/{case_id}/review", json={"decision": "approve"}, headers=AUTH)
            assert r.status_code == 503 and r.headers.get("retry-after"), r.text
        finally:
            await asyncio.to_thread(stage.postgres.restart)
        for _ in range(100):
            r = await client.post(f"/api/v1/door/cases/{case_id}/review", json={"decision": "approve"}, headers=AUTH)
            if r.status_code != 503:
                break
            await asyncio.sleep(0.2)
        assert r.status_code == 200, r.text
        history = (await client.get(f"/api/v1/door/cases/{case_id}", headers=AUTH)).json()["history"]
        assert [h["action"] for h in history] == ["discover", "approve"]
        assert await _door_events(app, case_id) == ["discover", "approve"]
