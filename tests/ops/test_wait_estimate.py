"""Through the API: after a run of instant finishes has pulled the queue's live handling average to
about zero, a resident with three people ahead is still told a wait from the catalog's typical time."""
from __future__ import annotations

from queue_server.config import Settings
from queue_server.domain.wait import TYPICAL_FLOOR_SHARE
from tests.support import AUTH, running_app

C = "jingansi"


async def test_instant_finishes_do_not_make_three_ahead_any_moment(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        typical_s = app.state.engine.catalog.matters["hrss-001"].typical_minutes * 60
        await client.post(f"/api/v1/centers/{C}/windows/w1/open", headers=AUTH, json={"staff_id": f"{C}-s01"})
        for _ in range(12):                      # each finished the moment it starts
            await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})
            t = (await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH)).json()["ticket"]
            await client.post(f"/api/v1/tickets/{t['id']}/start", headers=AUTH)
            assert (await client.post(f"/api/v1/tickets/{t['id']}/finish", headers=AUTH)).status_code == 200
        issued = [(await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})).json()
                  for _ in range(4)]
        fourth = issued[-1]
        assert fourth["ahead"] == 3
        floor = 3 * typical_s * TYPICAL_FLOOR_SHARE
        assert fourth["estimated_wait_s"] >= floor
        again = (await client.get(f"/api/v1/tickets/{fourth['id']}")).json()
        assert again["ahead"] == 3 and again["estimated_wait_s"] >= floor
