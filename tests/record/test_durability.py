"""QUEUE_DURABILITY=record: an operation is acknowledged only once its event and ticket row are in
PostgreSQL, so a Redis that loses its data loses nothing acknowledged and calls no ticket twice;
and a ticket Redis no longer holds answers from the record for the rest of its day."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import pytest

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.engine import queue_engine
from tests.realtime.live import open_live, receive
from tests.record.test_numbers import locked, no_repeats
from tests.support import AUTH, lose_redis_data, running_app, server_process, wait_recorded

C = "jingansi"
MORNING = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)


async def post(client: Any, path: str, body: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    r = await client.post(path, headers=AUTH, json=body or {})
    assert r.status_code == status, r.text
    return r.json()


async def test_record_mode_loses_nothing_acknowledged_when_redis_loses_its_data(settings: Settings) -> None:
    durable = replace(settings, durability="record")
    clock = FixedClock(MORNING)
    # no persister at all: whatever survives was written by the requests themselves
    async with running_app(durable, clock, run_persister=False) as (app, client):
        for w in ("w1", "w2", "w3"):
            await post(client, f"/api/v1/centers/{C}/windows/{w}/open", {"staff_id": f"{C}-s0{w[1]}"})
        issued = [await post(client, f"/api/v1/centers/{C}/tickets", {"matter": "hrss-001"}, 201) for _ in range(6)]
        finished = (await post(client, f"/api/v1/centers/{C}/windows/w1/call-next"))["ticket"]["id"]
        await post(client, f"/api/v1/tickets/{finished}/start")
        await post(client, f"/api/v1/tickets/{finished}/finish")
        called = (await post(client, f"/api/v1/centers/{C}/windows/w1/call-next"))["ticket"]["id"]
        serving = (await post(client, f"/api/v1/centers/{C}/windows/w2/call-next"))["ticket"]["id"]
        await post(client, f"/api/v1/tickets/{serving}/start")
        await post(client, f"/api/v1/tickets/{issued[5]['id']}/cancel")

    lose_redis_data(settings)

    async with running_app(durable, clock, run_persister=False) as (app, client):
        status = {t["id"]: (await client.get(f"/api/v1/tickets/{t['id']}")).json()["status"] for t in issued}
        waiting = [t["id"] for t in issued[3:5]]
        assert status == {finished: "finished", called: "called", serving: "serving", issued[5]["id"]: "cancelled",
                          waiting[0]: "waiting", waiting[1]: "waiting"}
        windows = {w["id"]: w for w in (await client.get(f"/api/v1/centers/{C}/queue")).json()["windows"]}
        assert windows["w1"]["current"] == called and windows["w2"]["current"] == serving
        assert windows["w3"]["state"] == "open"
        # the called and serving tickets are at their windows, not back in line: w3 calls only the waiting ones
        again = [(await post(client, f"/api/v1/centers/{C}/windows/w3/call-next"))["ticket"]["id"]]
        await post(client, f"/api/v1/tickets/{again[0]}/no-show")
        again.append((await post(client, f"/api/v1/centers/{C}/windows/w3/call-next"))["ticket"]["id"])
        await post(client, f"/api/v1/tickets/{again[1]}/no-show")
        assert again == waiting
        assert (await client.post(f"/api/v1/centers/{C}/windows/w3/call-next", headers=AUTH)).status_code == 204
        new = await post(client, f"/api/v1/centers/{C}/tickets", {"matter": "hrss-001"}, 201)
    no_repeats(issued + [new])


async def test_record_mode_answers_503_after_the_change_when_postgresql_is_away(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The change happened in Redis but is not acknowledged; the persister records it once PostgreSQL
    is back, and the client's retry (same Idempotency-Key) then gets the same ticket."""
    monkeypatch.setattr(queue_engine, "RECORD_TIMEOUT_S", 0.5)
    durable = replace(settings, durability="record")
    async with running_app(durable, FixedClock(MORNING)) as (app, client):
        headers = {**AUTH, "Idempotency-Key": "kiosk-1-0001"}
        async with locked(settings, "events"):
            r = await client.post(f"/api/v1/centers/{C}/tickets", headers=headers, json={"matter": "hrss-001"})
            assert r.status_code == 503 and r.headers["retry-after"]
            assert r.json()["code"] == "record_unavailable"
        for _ in range(200):
            r = await client.post(f"/api/v1/centers/{C}/tickets", headers=headers, json={"matter": "hrss-001"})
            if r.status_code == 200:
                break
            assert r.status_code == 503
            await wait_recorded(app.state.pool, settings.redis_url, settings, C, timeout=0.1)
        assert r.status_code == 200
        ticket = r.json()
        assert await app.state.pool.fetchval("SELECT number FROM tickets WHERE id = $1", ticket["id"]) == ticket["number"]


async def test_a_finished_ticket_answers_from_the_record_after_a_rebuild(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_engine, "RECORD_TIMEOUT_S", 0.5)
    clock = FixedClock(MORNING)
    async with running_app(settings, clock) as (app, client):
        await post(client, f"/api/v1/centers/{C}/windows/w1/open", {"staff_id": f"{C}-s01"})
        mine = await post(client, f"/api/v1/centers/{C}/tickets", {"matter": "hrss-001", "phone": "13912345678"}, 201)
        await post(client, f"/api/v1/centers/{C}/windows/w1/call-next")
        await post(client, f"/api/v1/tickets/{mine['id']}/start")
        await post(client, f"/api/v1/tickets/{mine['id']}/finish")
        await wait_recorded(app.state.pool, settings.redis_url, settings, C)

    lose_redis_data(settings)

    clock.advance(10 * 3600)   # the evening of the same day
    async with running_app(settings, clock) as (app, client):
        r = await client.get(f"/api/v1/tickets/{mine['id']}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["number"], body["status"], body["window"]) == (mine["number"], "finished", "w1")
        assert body["phone_masked"] == "139****5678" and "phone" not in body
        never = mine["id"].rsplit("-", 1)[0] + "-A999"
        assert (await client.get(f"/api/v1/tickets/{never}")).status_code == 404
        async with locked(settings, "tickets"):
            r = await client.get(f"/api/v1/tickets/{mine['id']}")
            assert r.status_code == 503 and r.headers["retry-after"]
        clock.advance(2 * 86_400)   # Redis would have let it go by now: so does the record
        assert (await client.get(f"/api/v1/tickets/{mine['id']}")).status_code == 404


async def test_the_status_page_socket_follows_a_finished_ticket_from_the_record_after_a_rebuild(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        await post(client, f"/api/v1/centers/{C}/windows/w1/open", {"staff_id": f"{C}-s01"})
        mine = await post(client, f"/api/v1/centers/{C}/tickets", {"matter": "hrss-001"}, 201)
        await post(client, f"/api/v1/centers/{C}/windows/w1/call-next")
        await post(client, f"/api/v1/tickets/{mine['id']}/no-show")
        await wait_recorded(app.state.pool, settings.redis_url, settings, C)

    lose_redis_data(settings)

    with server_process(settings) as (url, _):
        ws = await open_live(url, f"/ws/tickets/{mine['id']}", token=None)
        position = await receive(ws)
        assert (position["type"], position["id"], position["status"]) == ("position", mine["id"], "no_show")
        await ws.close()


def test_an_unknown_durability_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_DURABILITY", "fsync")
    with pytest.raises(ValueError, match="QUEUE_DURABILITY must be one of redis, record"):
        Settings.from_env()
    monkeypatch.setenv("QUEUE_DURABILITY", "record")
    assert Settings.from_env().durability == "record"
