"""Device inspections when a backing service is away, on services the test kills: with Redis away a
failed inspection (its failure is announced on the stream) is 503 with nothing recorded, and once
Redis is back the retry is recorded and announced once; a passing one needs no Redis; with
PostgreSQL away it is 503 with nothing announced."""
from __future__ import annotations

import asyncio

import orjson

from queue_server.domain.devices import CHECKLIST
from tests.faults.conftest import Stage
from tests.support import AUTH, running_app

C = "jingansi"


def answers(kind: str, failed: tuple[str, ...] = ()) -> dict[str, object]:
    return {"items": [{"item": code, "passed": code not in failed} for code, _, _ in CHECKLIST[kind]],
            "result": "fail" if failed else "pass"}


async def _announced(app, device: str) -> int:  # type: ignore[no-untyped-def]
    entries = await app.state.redis.xrange(app.state.keys.events(C))
    return sum(1 for _, f in entries if f[b"type"] == b"device.inspection_failed"
               and orjson.loads(f[b"data"])["device"]["id"] == device)


async def test_a_failed_inspection_while_redis_is_away_records_nothing_then_once(stage: Stage) -> None:
    async with running_app(stage.settings) as (app, client):
        printer = (await client.post("/api/v1/devices", json={"center": C, "kind": "printer"}, headers=AUTH)).json()["id"]
        kiosk = (await client.post("/api/v1/devices", json={"center": C, "kind": "kiosk"}, headers=AUTH)).json()["id"]
        url = f"/api/v1/devices/{printer}/inspections"
        await asyncio.to_thread(stage.redis.kill)
        try:
            r = await client.post(url, json=answers("printer", ("paper",)), headers=AUTH)
            assert r.status_code == 503 and r.headers.get("retry-after"), r.text
            assert await app.state.pool.fetchval("SELECT count(*) FROM device_inspections WHERE device = $1", printer) == 0
            passed = await client.post(f"/api/v1/devices/{kiosk}/inspections", json=answers("kiosk"), headers=AUTH)
            assert passed.status_code == 201, passed.text
        finally:
            await asyncio.to_thread(stage.redis.restart)
        for _ in range(100):
            r = await client.post(url, json=answers("printer", ("paper",)), headers=AUTH)
            if r.status_code != 503:
                break
            await asyncio.sleep(0.2)
        assert r.status_code == 201, r.text
        assert await app.state.pool.fetchval("SELECT count(*) FROM device_inspections WHERE device = $1", printer) == 1
        assert await _announced(app, printer) == 1


async def test_an_inspection_while_postgresql_is_away_is_503_and_announces_nothing(stage: Stage) -> None:
    async with running_app(stage.settings) as (app, client):
        printer = (await client.post("/api/v1/devices", json={"center": C, "kind": "printer"}, headers=AUTH)).json()["id"]
        await asyncio.to_thread(stage.postgres.stop)
        try:
            r = await client.post(f"/api/v1/devices/{printer}/inspections", json=answers("printer", ("paper",)),
                                  headers=AUTH)
            assert r.status_code == 503 and r.headers.get("retry-after"), r.text
        finally:
            await asyncio.to_thread(stage.postgres.restart)
        assert await _announced(app, printer) == 0
