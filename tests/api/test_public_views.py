"""What anonymous callers may see: the ops views need an admin or manager token."""
from __future__ import annotations

import asyncio

from queue_server.config import Settings
from queue_server.record.people import create_token
from tests.support import AUTH, running_app

C = "jingansi"


async def test_the_ops_views_need_an_admin_or_manager_token(settings: Settings) -> None:
    """They answered anyone: every center's socket counts and record lag, to the whole internet."""
    async with running_app(settings) as (app, client):
        staff = await create_token(app.state.pool, "staff", C, "w1", f"{C}-s01")
        manager = await create_token(app.state.pool, "manager", C)
        for path in ("/api/v1/ops/persister", "/api/v1/ops/realtime"):
            assert (await client.get(path)).status_code == 401, path
            assert (await client.get(path, headers={"Authorization": f"Bearer {staff}"})).status_code == 403, path
            assert (await client.get(path, headers={"Authorization": f"Bearer {manager}"})).status_code == 200, path
            assert (await client.get(path, headers=AUTH)).status_code == 200, path


async def test_the_public_queue_shows_numbers_only_from_a_shared_cache_and_is_rate_limited(services, database_url) -> None:
    """It listed every live ticket with a masked phone, and each anonymous call ran a snapshot over
    every live ticket, unlimited: 8 loops slowed issuing at other centers 40-fold."""
    settings = services.settings(database_url, rate_limit_per_minute=60)   # a burst of 15 per address
    async with running_app(settings) as (app, client):
        staff = {"Authorization": f"Bearer {await create_token(app.state.pool, 'staff', C, 'w1', f'{C}-s01')}"}
        issued = (await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH,
                                    json={"matter": "hrss-001", "phone": "13812345678"})).json()
        full = (await client.get(f"/api/v1/centers/{C}/queue", headers=staff)).json()
        assert [t["phone_masked"] for t in full["tickets"]] == ["138****5678"]

        snapshots = 0
        snapshot = app.state.engine.snapshot

        async def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal snapshots
            snapshots += 1
            return await snapshot(*args, **kwargs)

        app.state.engine.snapshot = counted
        answers = await asyncio.gather(*(client.get(f"/api/v1/centers/{C}/queue") for _ in range(12)))
        assert [r.status_code for r in answers] == [200] * 12
        assert snapshots < 6, f"{snapshots} snapshots for 12 anonymous calls"   # one per second, whoever asks
        public = answers[0].json()
        assert public["tickets"] == [{"id": issued["id"], "number": issued["number"], "queue": issued["queue"],
                                      "status": "waiting", "window": None}]
        assert sum(public["waiting"].values()) == 1 and public["windows"]
        codes = [(await client.get(f"/api/v1/centers/{C}/queue")).status_code for _ in range(10)]
        assert 429 in codes
        assert all([(await client.get(f"/api/v1/centers/{C}/queue", headers=staff)).status_code == 200
                    for _ in range(20)])
