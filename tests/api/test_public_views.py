"""What anonymous callers may see: the ops views need an admin or manager token."""
from __future__ import annotations

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
