"""Catalog import (all or nothing) and the ticket export (streamed CSV, phones masked)."""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
import pytest

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.record.exporter import export_tickets
from queue_server.record.importer import import_catalog
from tests.support import AUTH, running_app, wait_recorded

C = "jingansi"


async def test_export_streams_csv_with_masked_phones(settings: Settings) -> None:
    clock = FixedClock(datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc))
    async with running_app(settings, clock) as (app, client):
        await client.post(f"/api/v1/centers/{C}/windows/w1/open", headers=AUTH, json={"staff_id": f"{C}-s01"})
        t = (await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH,
                               json={"matter": "hrss-001", "phone": "13812345678"})).json()
        clock.advance(120)
        await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH)
        clock.advance(30)
        await client.post(f"/api/v1/tickets/{t['id']}/start", headers=AUTH)
        clock.advance(300)
        await client.post(f"/api/v1/tickets/{t['id']}/finish", headers=AUTH)
        await wait_recorded(app.state.pool, settings.redis_url, settings, C)
    out = io.StringIO()
    assert await export_tickets(settings.database_url, "2026-11-30", "2026-11-30", C, out) == 1
    text = out.getvalue()
    assert "13812345678" not in text and "138****5678" in text
    header, row = text.strip().splitlines()
    record = dict(zip(header.split(","), row.split(",")))
    assert record["wait_s"] == "120" and record["handling_s"] == "300" and record["status"] == "finished"


async def test_import_is_all_or_nothing(settings: Settings, tmp_path: Path) -> None:
    good = {"centers": [{"code": "testhall", "name_zh": "测试中心", "name_en": "Test hall", "address": "",
                         "timezone": "Asia/Shanghai", "hours": {}}],
            "queues": [{"center": "testhall", "code": "comprehensive", "prefix": "A", "name_zh": "综合",
                        "name_en": "Comprehensive", "matters": [], "channels": []}],
            "windows": [{"center": "testhall", "code": "w1", "name_zh": "1号窗口", "name_en": "Window 1", "kind": "onsite",
                         "queues": ["comprehensive"]}]}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(good, ensure_ascii=False), encoding="utf-8")
    assert await import_catalog(settings.database_url, path) == {"centers": 1, "queues": 1, "windows": 1}
    bad = {**good, "windows": [{**good["windows"][0], "kind": "floating"}]}
    bad["centers"] = [{**good["centers"][0], "name_en": "Renamed"}]
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(asyncpg.CheckViolationError):
        await import_catalog(settings.database_url, path)
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT name_en FROM centers WHERE code = 'testhall'") == "Test hall"
    finally:
        await conn.close()
