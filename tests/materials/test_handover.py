"""The hand-over of originals on real PostgreSQL and Redis: a package moves packed -> sent -> received ->
returned, each step by its own side (the point's assistant, the center's clerk), never skipped, never
twice; two clerks receiving at once: one wins, one gets 409. Every step is a row with who and when and
an event on the center's stream, and the record alone answers once Redis lost its data."""
from __future__ import annotations

import asyncio
from pathlib import Path

from queue_server.config import Settings
from tests.materials.helpers import C, SP1, called_ticket, events, token, with_store
from tests.support import AUTH, lose_redis_data, running_app, wait_recorded


async def test_a_package_moves_step_by_step_by_the_right_side(settings: Settings, tmp_path: Path) -> None:
    async with running_app(with_store(settings, tmp_path)) as (app, client):
        a = await called_ticket(client)
        tid = a.ticket["id"]
        second_clerk = await token(client, role="staff", staff_id=f"{C}-s03")
        # a matter with nothing that travels has no package
        r = await client.post(f"/api/v1/points/{SP1}/tickets/{tid}/package", json={}, headers=a.clerk)
        assert r.status_code == 403                                  # the center does not pack
        r = await client.post(f"/api/v1/points/{SP1}/tickets/{tid}/package", json={}, headers=a.assistant)
        assert r.status_code == 201, r.text
        package = r.json()
        assert package["state"] == "packed" and [i["name_en"] for i in package["items"]] == ["Medical expense invoices"]
        again = await client.post(f"/api/v1/points/{SP1}/tickets/{tid}/package", json={}, headers=a.assistant)
        assert again.status_code == 409
        pid = package["id"]

        async def step(name: str, headers: dict[str, str]) -> int:
            return (await client.post(f"/api/v1/packages/{pid}/{name}", json={}, headers=headers)).status_code

        assert await step("received", a.clerk) == 409                # skipped "sent"
        assert await step("returned", a.assistant) == 409            # returned before received
        assert await step("sent", a.clerk) == 403                    # the point sends, not the center
        assert await step("sent", a.assistant) == 200
        assert await step("sent", a.assistant) == 409                # twice
        assert await step("received", a.assistant) == 403            # the center receives, not the point
        assert await step("returned", a.assistant) == 409            # not received yet
        assert await step("lost", a.assistant) == 404
        other_point = await token(client, role="assistant", point="sp2")
        results = await asyncio.gather(*[client.post(f"/api/v1/packages/{pid}/received", json={}, headers=h)
                                         for h in (a.clerk, second_clerk)])
        assert sorted(r.status_code for r in results) == [200, 409]
        assert await step("returned", other_point) == 403            # another point's assistant
        assert await step("returned", a.assistant) == 200
        assert await step("returned", a.assistant) == 409

        rows = await app.state.pool.fetch("SELECT step, by_whom FROM package_steps WHERE package_id = $1 ORDER BY at, step",
                                          pid)
        assert [r["step"] for r in rows] == ["packed", "sent", "received", "returned"]
        assert rows[0]["by_whom"] == "assistant:jingansi-sp1 帮办员" and rows[2]["by_whom"].startswith("staff:")
        assert [e["type"] for e in await events(app, "package.")] == [
            "package.packed", "package.sent", "package.received", "package.returned"]

        public = await client.get(f"/api/v1/tickets/{tid}/package")
        assert public.status_code == 200 and public.json()["package"]["state"] == "returned"
        assert all("by" not in s for s in public.json()["package"]["steps"]) and "id" not in public.json()["package"]
        await wait_recorded(app.state.pool, settings.redis_url or "", settings, C)
    lose_redis_data(settings)
    async with running_app(with_store(settings, tmp_path)) as (app, client):
        r = await client.get(f"/api/v1/tickets/{tid}/package")
        assert r.status_code == 200
        assert [s["step"] for s in r.json()["package"]["steps"]] == ["packed", "sent", "received", "returned"]
        assert (await client.get(f"/api/v1/tickets/{tid}/materials", headers=AUTH)).json()["package"]["state"] == "returned"


async def test_a_matter_without_travelling_originals_has_no_package(settings: Settings, tmp_path: Path) -> None:
    async with running_app(with_store(settings, tmp_path)) as (app, client):
        a = await called_ticket(client, matter="hrss-001")
        r = await client.post(f"/api/v1/points/{SP1}/tickets/{a.ticket['id']}/package", json={}, headers=a.assistant)
        assert r.status_code == 422
        assert await app.state.pool.fetchval("SELECT count(*) FROM packages") == 0
        assert (await client.get(f"/api/v1/tickets/{a.ticket['id']}/package")).json() == {"package": None}
        assert (await client.get("/api/v1/tickets/nowhere-20260101-A001/package")).status_code == 404
