"""Scans when a backing service is away (docs/materials.md), on services the test kills: with Redis
away an upload is refused before anything is stored (503); with PostgreSQL away it is refused with no
row written (503, the content may wait in the store under its hash); once back, the same upload makes
exactly one scan and one stored file, and the event goes out."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from tests.faults.conftest import Stage
from tests.materials.helpers import C, called_ticket, events, png, stored_files, upload
from tests.support import running_app


def _with_store(stage: Stage, folder: Path):  # type: ignore[no-untyped-def]
    return replace(stage.settings, extra={**stage.settings.extra, "QUEUE_MATERIALS_DIR": str(folder)})


async def _count(app, table: str) -> int:  # type: ignore[no-untyped-def]
    return await app.state.pool.fetchval(f"SELECT count(*) FROM {table}")


async def test_an_upload_while_redis_is_away_stores_nothing_then_once(stage: Stage, tmp_path: Path) -> None:
    async with running_app(_with_store(stage, tmp_path)) as (app, client):
        a = await called_ticket(client)
        scan = png(9, 4000)
        await asyncio.to_thread(stage.redis.kill)
        r = await upload(client, a, 1, scan)
        assert r.status_code == 503 and r.headers.get("retry-after"), r.text
        assert stored_files(tmp_path) == [] and await _count(app, "material_scans") == 0
        await asyncio.to_thread(stage.redis.restart)
        for _ in range(50):
            r = await upload(client, a, 1, scan)
            if r.status_code != 503:
                break
            await asyncio.sleep(0.2)
        assert r.status_code == 201, r.text
        assert await _count(app, "material_scans") == 1 and len(stored_files(tmp_path)) == 1
        assert [e["scan"]["id"] for e in await events(app, "material.uploaded")] == [r.json()["id"]]


async def test_an_upload_while_postgresql_is_away_writes_no_row_then_one(stage: Stage, tmp_path: Path) -> None:
    async with running_app(_with_store(stage, tmp_path)) as (app, client):
        a = await called_ticket(client)
        scan = png(10, 4000)
        await asyncio.to_thread(stage.postgres.stop)
        try:
            r = await upload(client, a, 2, scan)
            assert r.status_code == 503 and r.headers.get("retry-after"), r.text
            assert await events(app, "material.") == []
        finally:
            await asyncio.to_thread(stage.postgres.restart)
        for _ in range(100):
            r = await upload(client, a, 2, scan)
            if r.status_code != 503:
                break
            await asyncio.sleep(0.2)
        assert r.status_code == 201, r.text
        again = await upload(client, a, 2, scan)
        assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
        assert await _count(app, "material_scans") == 1 and len(stored_files(tmp_path)) == 1
        assert await app.state.pool.fetchval("SELECT center FROM material_scans") == C
