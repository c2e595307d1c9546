"""The assistant at a service point (帮办员) through the API, on real Redis and PostgreSQL: its token
is bound to one point, it issues and sees only there, it cannot touch another point's ticket or a
hall ticket (403, nothing written), and marking a resident present is one event however often it is
pressed. Bad input is problem+json naming the field."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from websockets.exceptions import ConnectionClosed

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.record.people import create_token
from tests.realtime.live import open_live, receive
from tests.support import AUTH, lose_redis_data, running_app, server_process, wait_recorded

C = "jingansi"
SP1, SP2 = f"{C}-sp1", f"{C}-sp2"     # demo: r1 serves both all day; r2 serves sp3 and the others
PROBLEM = "application/problem+json"


async def _assistant(client: httpx.AsyncClient, point: str = "sp1") -> dict[str, str]:
    r = await client.post("/api/v1/tokens", headers=AUTH,
                          json={"role": "assistant", "center": C, "point": point, "label": f"{point} 帮办员"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def _open_remote_windows(client: httpx.AsyncClient) -> None:
    for w, staff in [("r1", "s01"), ("r2", "s02")]:
        r = await client.post(f"/api/v1/centers/{C}/windows/{w}/open", json={"staff_id": f"{C}-{staff}"}, headers=AUTH)
        assert r.status_code == 200, r.text


async def _issue(client: httpx.AsyncClient, point: str | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"matter": "hrss-001", "channel": "service_point" if point else "kiosk", **extra}
    if point:
        body["service_point"] = point
    r = await client.post(f"/api/v1/centers/{C}/tickets", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    return r.json()


async def _events(app: Any, kind: str | None = None) -> list[dict[str, Any]]:
    entries = await app.state.redis.xrange(app.state.keys.events(C))
    found = [orjson.loads(f[b"data"]) for _, f in entries]
    return [e for e in found if kind is None or e["type"] == kind]


async def test_assistant_tokens_are_minted_for_one_point_and_refused_without_one(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        mine = await _assistant(client)
        who = await app.state.tokens.resolve(mine["Authorization"][7:])
        assert (who.role, who.center, who.point) == ("assistant", C, "sp1")
        count = await app.state.pool.fetchval("SELECT count(*) FROM tokens")
        for body, field in [({"role": "assistant", "center": C}, "point"),
                            ({"role": "assistant", "center": C, "point": "sp1", "device_kind": "kiosk"}, "point"),
                            ({"role": "assistant", "center": C, "point": "sp1", "window": "r1"}, "point"),
                            ({"role": "assistant", "center": C, "point": "nowhere"}, "point"),
                            ({"role": "staff", "center": C, "window": "w1", "point": "sp1"}, "point")]:
            r = await client.post("/api/v1/tokens", json=body, headers=AUTH)
            assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (body, r.text)
            assert r.json()["errors"][0]["field"] == field
        assert await app.state.pool.fetchval("SELECT count(*) FROM tokens") == count
        # an assistant mints nothing
        r = await client.post("/api/v1/tokens", json={"role": "assistant", "center": C, "point": "sp2"}, headers=mine)
        assert r.status_code == 403


async def test_an_assistant_issues_and_sees_only_at_its_own_point(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        await _open_remote_windows(client)
        mine = await _assistant(client)
        r = await client.post(f"/api/v1/points/{SP1}/tickets", json={"matter": "hrss-001", "priority": "priority"},
                              headers=mine)
        assert r.status_code == 201, r.text
        taken = r.json()
        assert (taken["service_point"], taken["channel"], taken["priority"]) == ("sp1", "service_point", "priority")
        other = await _issue(client, "sp2")
        hall = await _issue(client, None)

        before = (await app.state.redis.xlen(app.state.keys.events(C)), await app.state.redis.hgetall(
            app.state.keys.sequence(C, taken["id"].split("-")[1])))
        refused = [
            await client.post(f"/api/v1/points/{SP2}/tickets", json={"matter": "hrss-001"}, headers=mine),
            await client.post(f"/api/v1/centers/{C}/tickets", headers=mine,
                              json={"matter": "hrss-001", "channel": "service_point", "service_point": "sp1"}),
            await client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}, headers=mine),
            await client.get(f"/api/v1/points/{SP2}/queue", headers=mine),
            await client.get(f"/api/v1/points/{C}-sp3/queue", headers=mine),
        ]
        assert [x.status_code for x in refused] == [403] * 5, [x.text for x in refused]
        assert all(x.headers["content-type"] == PROBLEM for x in refused)
        # the body cannot name another point: the point is the token's
        r = await client.post(f"/api/v1/points/{SP1}/tickets", json={"matter": "hrss-001", "service_point": "sp2"},
                              headers=mine)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "service_point"
        assert (await app.state.redis.xlen(app.state.keys.events(C)), await app.state.redis.hgetall(
            app.state.keys.sequence(C, taken["id"].split("-")[1]))) == before

        r = await client.get(f"/api/v1/points/{SP1}/queue", headers=mine)
        assert r.status_code == 200, r.text
        q = r.json()
        assert [t["id"] for t in q["tickets"]] == [taken["id"]] and q["waiting"] == 1
        assert other["id"] not in r.text and hall["id"] not in r.text
        assert [(w["id"], w["state"], w["staff_name"]) for w in q["windows"]] == [
            ("r1", "open", q["windows"][0]["staff_name"])] and q["windows"][0]["staff_name"]
        assert q["point"]["code"] == "sp1" and "phone" not in r.text


async def test_an_assistant_cannot_mark_another_points_or_a_hall_ticket(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        await _open_remote_windows(client)
        mine = await _assistant(client)
        theirs = await _issue(client, "sp2")
        hall = await _issue(client, None)
        elsewhere = (await client.post("/api/v1/centers/caojiadu/tickets", json={"matter": "hrss-001"},
                                       headers=AUTH)).json()
        length = await app.state.redis.xlen(app.state.keys.events(C))
        for ticket in (theirs, hall, elsewhere):
            r = await client.post(f"/api/v1/points/{SP1}/tickets/{ticket['id']}/present", json={}, headers=mine)
            assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, r.text
            assert r.json()["code"] == "other_point"
        # nor through the other point's path, nor as a staff member of the remote window
        r = await client.post(f"/api/v1/points/{SP2}/tickets/{theirs['id']}/present", json={}, headers=mine)
        assert r.status_code == 403
        for t in (theirs, hall):
            assert await app.state.redis.hget(app.state.keys.ticket(C, t["id"]), "present_at") is None
        assert await app.state.redis.xlen(app.state.keys.events(C)) == length


async def test_marking_present_is_idempotent_and_evented_once(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        await _open_remote_windows(client)
        mine = await _assistant(client)
        t = (await client.post(f"/api/v1/points/{SP1}/tickets", json={"matter": "hrss-001"}, headers=mine)).json()
        called = await client.post(f"/api/v1/centers/{C}/windows/r1/call-next", headers=AUTH)
        assert called.json()["ticket"]["id"] == t["id"]
        url = f"/api/v1/points/{SP1}/tickets/{t['id']}/present"
        answers = await asyncio.gather(*(client.post(url, json={}, headers=mine) for _ in range(20)))
        assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
        marked = {(a.json()["present_at"], a.json()["version"]) for a in answers}
        assert len(marked) == 1
        events = [e for e in await _events(app, "ticket.present") if e["ticket"]["id"] == t["id"]]
        assert len(events) == 1 and events[0]["ticket"]["present_at"] == answers[0].json()["present_at"]
        assert events[0]["ticket"]["window"] == "r1" and events[0]["by"].startswith("assistant:")
        # the remote clerk sees it in the ticket as the public API and the record give it
        assert (await client.get(f"/api/v1/tickets/{t['id']}")).json()["present_at"] == events[0]["ticket"]["present_at"]
        await client.post(f"/api/v1/tickets/{t['id']}/start", json={}, headers=AUTH)
        await client.post(f"/api/v1/tickets/{t['id']}/finish", json={}, headers=AUTH)
        again = await client.post(url, json={}, headers=mine)
        assert again.status_code == 200 and again.json()["present_at"] == events[0]["ticket"]["present_at"]
        late = (await client.post(f"/api/v1/points/{SP1}/tickets", json={"matter": "hrss-001"}, headers=mine)).json()
        await client.post(f"/api/v1/tickets/{late['id']}/cancel", json={}, headers=AUTH)
        r = await client.post(f"/api/v1/points/{SP1}/tickets/{late['id']}/present", json={}, headers=mine)
        assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
        assert len(await _events(app, "ticket.present")) == 1


async def test_bad_input_is_problem_json_naming_the_field_and_writes_nothing(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        await _open_remote_windows(client)
        mine = await _assistant(client)
        t = (await client.post(f"/api/v1/points/{SP1}/tickets", json={"matter": "hrss-001"}, headers=mine)).json()
        length = await app.state.redis.xlen(app.state.keys.events(C))
        not_remote = next(m.code for m in app.state.engine.catalog.matters.values() if not m.remote_eligible)
        cases = [
            ("POST", f"/api/v1/points/{SP1}/tickets", {"matter": "no-such-matter"}, 422, None),
            ("POST", f"/api/v1/points/{SP1}/tickets", {"matter": not_remote}, 422, None),
            ("POST", f"/api/v1/points/{SP1}/tickets", {"matter": "hrss-001", "phone": "12345"}, 422, "phone"),
            ("POST", f"/api/v1/points/{SP1}/tickets", {"matter": "hrss-001", "priority": "appointment"}, 422, "priority"),
            ("POST", f"/api/v1/points/{SP1}/tickets", {}, 422, "matter"),
            ("POST", f"/api/v1/points/{SP1}/tickets", {"matter": "hrss-001", "channel": "kiosk"}, 422, "channel"),
            ("POST", f"/api/v1/points/{C}-nowhere/tickets", {"matter": "hrss-001"}, 404, None),
            ("POST", f"/api/v1/points/nowhere/tickets", {"matter": "hrss-001"}, 404, None),
            ("GET", f"/api/v1/points/{C}-nowhere/queue", None, 404, None),
            ("POST", f"/api/v1/points/{SP1}/tickets/{t['id']}/present", {"at": 1}, 422, "at"),
            ("POST", f"/api/v1/points/{SP1}/tickets/{C}-20260101-Z999/present", {}, 404, None),
            ("POST", f"/api/v1/points/{SP1}/tickets/garbage/present", {}, 403, None),
        ]
        for method, path, body, status, field in cases:
            r = await client.request(method, path, json=body, headers=mine)
            assert r.status_code == status and r.headers["content-type"] == PROBLEM, (path, body, r.status_code, r.text)
            if field:
                assert r.json()["errors"][0]["field"] == field, r.text
        r = await client.post(f"/api/v1/points/{SP1}/tickets", content=b"{not json", headers=mine)
        assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
        assert (await client.get(f"/api/v1/points/{SP1}/queue")).status_code == 401
        assert await app.state.redis.xlen(app.state.keys.events(C)) == length
        assert await app.state.redis.hget(app.state.keys.ticket(C, t["id"]), "present_at") is None


async def test_a_points_printed_ticket_gets_its_review_link_and_another_points_does_not(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        await _open_remote_windows(client)
        mine = await _assistant(client)
        r = await client.post("/api/v1/tokens", headers=AUTH,
                              json={"role": "device", "center": C, "device_kind": "kiosk", "point": "sp1"})
        kiosk = {"Authorization": f"Bearer {r.json()['token']}"}
        own = (await client.post(f"/api/v1/points/{SP1}/tickets", json={"matter": "hrss-001"}, headers=mine)).json()
        theirs = await _issue(client, "sp2")
        hall = await _issue(client, None)
        links = await app.state.pool.fetchval("SELECT count(*) FROM review_links")
        urls = set()
        for headers in (mine, kiosk):   # the point's assistant and the point's own kiosk print its tickets
            r = await client.post("/api/v1/reviews/links", json={"ticket_id": own["id"]}, headers=headers)
            assert r.status_code == 201, r.text
            urls.add(r.json()["url"])
            for other in (theirs, hall):
                r = await client.post("/api/v1/reviews/links", json={"ticket_id": other["id"]}, headers=headers)
                assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, r.text
        assert len(urls) == 1   # one live link per ticket, whoever prints it
        assert await app.state.pool.fetchval("SELECT count(*) FROM review_links") == links + 1


async def test_a_resident_marked_present_stays_present_when_redis_loses_its_data(settings: Settings) -> None:
    """The mark is recorded with its one event; the queue rebuilt from the record keeps it, and
    marking again afterwards still emits nothing."""
    async with running_app(settings) as (app, client):
        await _open_remote_windows(client)
        mine = await _assistant(client)
        t = (await client.post(f"/api/v1/points/{SP1}/tickets", json={"matter": "hrss-001"}, headers=mine)).json()
        marked = (await client.post(f"/api/v1/points/{SP1}/tickets/{t['id']}/present", json={}, headers=mine)).json()
        await wait_recorded(app.state.pool, settings.redis_url, settings, C)
        row = await app.state.pool.fetchrow(
            "SELECT (data->>'present_at')::bigint AS present_at, (SELECT count(*) FROM events"
            " WHERE ticket_id = $1 AND type = 'ticket.present') AS events FROM tickets WHERE id = $1", t["id"])
        assert (row["present_at"], row["events"]) == (marked["present_at"], 1)
    lose_redis_data(settings)
    async with running_app(settings) as (app, client):
        assert (await client.get(f"/api/v1/tickets/{t['id']}")).json()["present_at"] == marked["present_at"]
        again = await client.post(f"/api/v1/points/{SP1}/tickets/{t['id']}/present", json={}, headers=mine)
        assert again.status_code == 200 and again.json()["present_at"] == marked["present_at"]
        assert await _events(app, "ticket.present") == []
        queue = (await client.get(f"/api/v1/points/{SP1}/queue", headers=mine)).json()
        assert [x["present_at"] for x in queue["tickets"]] == [marked["present_at"]]


async def test_the_assistant_socket_opens_for_its_point_only(settings: Settings) -> None:
    async with running_app(settings) as (app, _):
        pool = app.state.pool
        sp1 = await create_token(pool, "assistant", C, label="sp1 帮办员", point="sp1")
        sp2 = await create_token(pool, "assistant", C, label="sp2 帮办员", point="sp2")
        screen = await create_token(pool, "device", C, device_kind="screen", label="sp1 screen", point="sp1")
        staff = await create_token(pool, "staff", C, "r1", f"{C}-s01")
    with server_process(settings) as (url, _):
        ws = await open_live(url, f"/ws/points/{SP1}/assistant", token=sp1)
        first = await receive(ws)
        assert first["type"] == "snapshot" and first["point"]["code"] == "sp1"
        await ws.close()
        for path, token in [(f"/ws/points/{SP1}/assistant", sp2), (f"/ws/points/{SP1}/assistant", screen),
                            (f"/ws/points/{SP1}/assistant", staff), (f"/ws/points/{SP1}/screen", sp1),
                            (f"/ws/centers/{C}/display", sp1), (f"/ws/centers/{C}/windows/r1/staff", sp1)]:
            ws = await open_live(url, path, token=token)
            with pytest.raises(ConnectionClosed) as exc:
                await receive(ws)
            assert exc.value.rcvd is not None and exc.value.rcvd.code == 4403, path


async def test_the_assistant_is_held_to_the_points_hours(settings: Settings) -> None:
    """The issue's 21:58 ticket: an assistant outside the point's hours gets 409 with the next opening,
    and nothing is written; the clerk may still call the resident already waiting, who can be marked."""
    sh = ZoneInfo("Asia/Shanghai")
    clock = FixedClock(datetime(2026, 12, 1, 16, 0, tzinfo=sh))
    async with running_app(settings, clock) as (app, client):
        hours = {"weekdays": ["08:30", "16:30"], "weekends_holidays": ["08:30", "11:30"]}
        assert (await client.put(f"/api/v1/centers/{C}/hours", json=hours, headers=AUTH)).status_code == 200
        await _open_remote_windows(client)
        mine = await _assistant(client)
        before_closing = await client.post(f"/api/v1/points/{SP1}/tickets", json={"matter": "hrss-001"}, headers=mine)
        assert before_closing.status_code == 201, before_closing.text
        clock.set(datetime(2026, 12, 1, 21, 58, tzinfo=sh))
        written = (await app.state.redis.xlen(app.state.keys.events(C)),
                   await app.state.redis.hgetall(app.state.keys.sequence(C, "20261201")))
        r = await client.post(f"/api/v1/points/{SP1}/tickets", json={"matter": "hrss-001"},
                              headers={**mine, "Idempotency-Key": "late"})
        assert r.status_code == 409 and r.headers["content-type"] == PROBLEM, r.text
        assert (r.json()["code"], r.json()["next_opening_at"]) == ("closed", "2026-12-02T08:30:00+08:00")
        assert (await app.state.redis.xlen(app.state.keys.events(C)),
                await app.state.redis.hgetall(app.state.keys.sequence(C, "20261201"))) == written
        called = await client.post(f"/api/v1/centers/{C}/windows/r1/call-next", headers=AUTH)
        assert called.json()["ticket"]["id"] == before_closing.json()["id"]
        marked = await client.post(f"/api/v1/points/{SP1}/tickets/{before_closing.json()['id']}/present", json={},
                                   headers=mine)
        assert marked.status_code == 200 and marked.json()["present_at"] == clock.now_ms()
