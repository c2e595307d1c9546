"""The center's dashboard counts packages of originals from their step events (ops/live.py): in transit
until received, at the center until returned, and an overdue return once past its due time; warmed from
PostgreSQL at start, so a Redis that lost its data loses none of them."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from queue_server.config import Settings
from tests.materials.helpers import C, SP1, called_ticket, with_store
from tests.support import AUTH, lose_redis_data, running_app, wait_recorded


async def _packages(client: httpx.AsyncClient, want: dict[str, int] | None = None) -> dict[str, Any]:
    """The center's package figures, once they show ``want`` (the feed follows the stream)."""
    for _ in range(100):
        r = await client.get(f"/api/v1/ops/figures?center={C}", headers=AUTH)
        assert r.status_code == 200, r.text
        found = r.json()["centers"][C]["packages"]
        if want is None or found == want:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"figures stayed {found}, not {want}")


async def test_packages_in_transit_at_the_center_and_overdue(settings: Settings, tmp_path: Path) -> None:
    config = with_store(settings, tmp_path, QUEUE_PACKAGE_RETURN_DAYS="0")   # due back as soon as received
    async with running_app(config) as (app, client):
        assert await _packages(client) == {"in_transit": 0, "at_center": 0, "returns_overdue": 0}
        a = await called_ticket(client)
        r = await client.post(f"/api/v1/points/{SP1}/tickets/{a.ticket['id']}/package", json={}, headers=a.assistant)
        pid = r.json()["id"]
        await _packages(client, {"in_transit": 1, "at_center": 0, "returns_overdue": 0})
        assert (await client.post(f"/api/v1/packages/{pid}/sent", json={}, headers=a.assistant)).status_code == 200
        await _packages(client, {"in_transit": 1, "at_center": 0, "returns_overdue": 0})
        assert (await client.post(f"/api/v1/packages/{pid}/received", json={}, headers=a.clerk)).status_code == 200
        await asyncio.sleep(0.01)
        await _packages(client, {"in_transit": 0, "at_center": 1, "returns_overdue": 1})
        await wait_recorded(app.state.pool, settings.redis_url or "", settings, C)
    lose_redis_data(settings)
    async with running_app(config) as (app, client):
        await _packages(client, {"in_transit": 0, "at_center": 1, "returns_overdue": 1})
        assert (await client.post(f"/api/v1/packages/{pid}/returned", json={}, headers=a.assistant)).status_code == 200
        await _packages(client, {"in_transit": 0, "at_center": 0, "returns_overdue": 0})
