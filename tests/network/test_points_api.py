"""Service points and assignments through the API: status changes with history, the routing of a
point's tickets to the remote windows assigned to it now, and bad input answered as problem+json
with nothing written."""
from __future__ import annotations

import asyncio

import asyncpg
import pytest

from queue_server.config import Settings
from tests.support import AUTH, running_app

C = "jingansi"
T = f"/api/v1/centers/{C}/tickets"
NEW = {"code": "xk_park", "name_zh": "新康公园", "name_en": "Xinkang Park", "kind": "park",
       "address": "上海市静安区新康路1号", "lat": 31.2304, "lng": 121.4491}


async def _counts(settings: Settings) -> tuple[int, int, int, int]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        row = await conn.fetchrow("SELECT (SELECT count(*) FROM service_points) a, (SELECT count(*) FROM service_point_changes) b,"
                                  " (SELECT count(*) FROM remote_assignments) c, (SELECT count(*) FROM tickets) d")
        return tuple(row)  # type: ignore[return-value]
    finally:
        await conn.close()


async def test_a_point_goes_planned_active_suspended_closed_with_who_when_why(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        r = await client.post(f"/api/v1/centers/{C}/points", json=NEW, headers=AUTH)
        assert r.status_code == 201 and r.json()["status"] == "planned" and r.json()["id"] == f"{C}-xk_park"
        for to, reason in [("active", "开放"), ("suspended", "装修"), ("active", "恢复"), ("closed", "撤点")]:
            r = await client.post(f"/api/v1/centers/{C}/points/xk_park/status", json={"status": to, "reason": reason},
                                  headers=AUTH)
            assert r.status_code == 200 and r.json()["status"] == to
        history = r.json()["history"]
        assert [(h["from_status"], h["to_status"]) for h in history] == [
            (None, "planned"), ("planned", "active"), ("active", "suspended"), ("suspended", "active"), ("active", "closed")]
        assert all(h["changed_by"] == "admin" and h["at"] > 0 for h in history) and history[2]["reason"] == "装修"
        before = await _counts(settings)
        r = await client.post(f"/api/v1/centers/{C}/points/xk_park/status", json={"status": "active", "reason": "再开"},
                              headers=AUTH)
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        assert await _counts(settings) == before
        assert app.state.engine.catalog.centers[C].service_points["xk_park"].status == "closed"


async def test_tickets_at_a_point_wait_for_the_remote_window_assigned_to_it_now(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        for w, staff in [("r1", "s01"), ("r2", "s02")]:
            assert (await client.post(f"/api/v1/centers/{C}/windows/{w}/open", json={"staff_id": f"{C}-{staff}"},
                                      headers=AUTH)).status_code == 200
        # demo: r1 serves sp1 and sp2 all day, r2 the others
        at3 = (await client.post(T, json={"matter": "hrss-001", "channel": "service_point", "service_point": "sp3"},
                                 headers=AUTH)).json()
        at1 = (await client.post(T, json={"matter": "hrss-001", "channel": "service_point", "service_point": "sp1"},
                                 headers=AUTH)).json()
        queue = (await client.get(f"/api/v1/centers/{C}/queue", headers=AUTH)).json()
        assert queue["waiting"]["remote"] == 2 and not any(q.startswith("@") for q in queue["waiting"])
        r = await client.post(f"/api/v1/centers/{C}/windows/r1/call-next", headers=AUTH)
        assert r.json()["ticket"]["id"] == at1["id"]
        assert (await client.post(f"/api/v1/centers/{C}/windows/r1/call-next", headers=AUTH)).status_code == 409  # busy
        r = await client.post(f"/api/v1/centers/{C}/windows/r2/call-next", headers=AUTH)
        assert r.json()["ticket"]["id"] == at3["id"]


async def test_a_point_nobody_serves_refuses_tickets_and_writes_nothing(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        body = {"matter": "hrss-001", "channel": "service_point", "service_point": "sp1"}
        before = await _counts(settings)
        seq = app.state.keys.sequence(C, "*")
        r = await client.post(T, json=body, headers=AUTH)          # r1 is assigned but closed
        assert r.status_code == 409 and r.json()["code"] == "point_unstaffed"
        conn = await asyncpg.connect(settings.database_url)
        try:
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM remote_assignments WHERE center = $1 AND point = 'sp1'", C)]
        finally:
            await conn.close()
        for i in ids:
            assert (await client.delete(f"/api/v1/centers/{C}/assignments/{i}", headers=AUTH)).status_code == 204
        r = await client.post(T, json=body, headers=AUTH)
        assert r.status_code == 409 and r.json()["code"] == "point_unserved"
        r = await client.post(T, json={**body, "matter": "hrss-004"}, headers=AUTH)
        assert [k async for k in app.state.redis.scan_iter(match=seq)] == []      # no number consumed
        assert (await _counts(settings))[3] == before[3]
        assert await app.state.redis.xlen(app.state.keys.events(C)) == 0


async def test_a_matter_not_handled_remotely_is_refused_at_a_point_by_name(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        await client.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": f"{C}-s01"}, headers=AUTH)
        matter = next(m for m in app.state.engine.catalog.matters.values() if not m.remote_eligible)
        events = await app.state.redis.xlen(app.state.keys.events(C))
        r = await client.post(T, json={"matter": matter.code, "channel": "service_point", "service_point": "sp1"},
                              headers=AUTH)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["matter"] == matter.code and matter.code in r.json()["detail"]
        assert await app.state.redis.xlen(app.state.keys.events(C)) == events
        assert [k async for k in app.state.redis.scan_iter(match=app.state.keys.sequence(C, "*"))] == []


BAD = [
    ("unknown point status", "POST", f"/api/v1/centers/{C}/points/nope/status", {"status": "active", "reason": "x"}, 404, None),
    ("unknown center", "POST", "/api/v1/centers/nowhere/points", NEW, 404, None),
    ("bad latitude", "POST", f"/api/v1/centers/{C}/points", {**NEW, "lat": 91}, 422, "lat"),
    ("bad longitude", "POST", f"/api/v1/centers/{C}/points", {**NEW, "lng": "east"}, 422, "lng"),
    ("unknown kind", "POST", f"/api/v1/centers/{C}/points", {**NEW, "kind": "mall"}, 422, "kind"),
    ("code with a dash", "POST", f"/api/v1/centers/{C}/points", {**NEW, "code": "a-b"}, 422, "code"),
    ("taken code", "POST", f"/api/v1/centers/{C}/points", {**NEW, "code": "sp1"}, 409, "code"),
    ("unknown status", "POST", f"/api/v1/centers/{C}/points/sp1/status", {"status": "open", "reason": "x"}, 422, "status"),
    ("no reason", "POST", f"/api/v1/centers/{C}/points/sp1/status", {"status": "suspended"}, 422, "reason"),
    ("extra field", "POST", f"/api/v1/centers/{C}/points", {**NEW, "hours": {}}, 422, "hours"),
    ("overlapping assignment", "POST", f"/api/v1/centers/{C}/assignments",
     {"window": "r1", "point": "sp1", "starts": "09:00", "ends": "10:00"}, 422, "starts"),
    ("onsite window", "POST", f"/api/v1/centers/{C}/assignments",
     {"window": "w1", "point": "sp3", "starts": "09:00", "ends": "10:00"}, 422, "window"),
    ("unknown point", "POST", f"/api/v1/centers/{C}/assignments",
     {"window": "r1", "point": "sp99", "starts": "09:00", "ends": "10:00"}, 422, "point"),
    ("ends before starts", "POST", f"/api/v1/centers/{C}/assignments",
     {"window": "r2", "point": "sp1", "starts": "12:00", "ends": "09:00"}, 422, "ends"),
    ("bad time", "POST", f"/api/v1/centers/{C}/assignments",
     {"window": "r2", "point": "sp1", "starts": "25:00", "ends": "26:00"}, 422, "starts"),
    ("weekday zero", "POST", f"/api/v1/centers/{C}/assignments",
     {"window": "r2", "point": "sp1", "starts": "09:00", "ends": "10:00", "weekdays": [0]}, 422, "weekdays.0"),
    ("no weekday", "POST", f"/api/v1/centers/{C}/assignments",
     {"window": "r2", "point": "sp1", "starts": "09:00", "ends": "10:00", "weekdays": []}, 422, "weekdays"),
    ("weekdays by name", "POST", f"/api/v1/centers/{C}/assignments",
     {"window": "r2", "point": "sp1", "starts": "09:00", "ends": "10:00", "weekdays": "mon"}, 422, "weekdays"),
    ("unknown assignment", "DELETE", f"/api/v1/centers/{C}/assignments/999999", None, 404, None),
    ("unknown point ticket", "POST", T, {"matter": "hrss-001", "channel": "service_point", "service_point": "sp99"}, 422, None),
]


@pytest.mark.parametrize(("what", "method", "path", "body", "status", "field"), BAD, ids=[b[0] for b in BAD])
async def test_bad_input_is_a_problem_and_writes_nothing(settings: Settings, what: str, method: str, path: str,
                                                         body: dict | None, status: int, field: str | None) -> None:
    async with running_app(settings) as (app, client):
        before = await _counts(settings)
        r = await client.request(method, path, json=body, headers=AUTH)
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/problem+json"
        if field:
            assert field in {e["field"] for e in r.json().get("errors", [])}, r.json()
        assert await _counts(settings) == before


async def test_malformed_body_and_a_manager_of_another_center(settings: Settings) -> None:
    from queue_server.record.people import create_token
    async with running_app(settings) as (app, client):
        r = await client.post(f"/api/v1/centers/{C}/points", content=b"{not json", headers={**AUTH, "content-type": "application/json"})
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
        other = await create_token(app.state.pool, "manager", "caojiadu")
        r = await client.post(f"/api/v1/centers/{C}/points/sp1/status", json={"status": "suspended", "reason": "x"},
                              headers={"Authorization": f"Bearer {other}"})
        assert r.status_code == 403
        own = await create_token(app.state.pool, "manager", C, label="站长")
        r = await client.post(f"/api/v1/centers/{C}/points/sp1/status", json={"status": "suspended", "reason": "停电"},
                              headers={"Authorization": f"Bearer {own}"})
        assert r.status_code == 200 and r.json()["history"][-1]["changed_by"] == "manager:站长"
        r = await client.post(T, json={"matter": "hrss-001", "channel": "service_point", "service_point": "sp1"}, headers=AUTH)
        assert r.status_code == 409 and r.json()["code"] == "point_not_active"


async def test_a_points_kiosk_issues_only_at_its_own_point(settings: Settings) -> None:
    from queue_server.record.people import create_token
    async with running_app(settings) as (app, client):
        await client.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": f"{C}-s01"}, headers=AUTH)
        kiosk = {"Authorization": f"Bearer {await create_token(app.state.pool, 'device', C, device_kind='kiosk', point='sp1')}"}
        body = {"matter": "hrss-001", "channel": "service_point", "service_point": "sp2"}
        r = await client.post(T, json=body, headers=kiosk)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        assert (await client.post(T, json={"matter": "hrss-001"}, headers=kiosk)).status_code == 403   # not a hall kiosk
        assert (await client.post(T, json={**body, "service_point": "sp1"}, headers=kiosk)).status_code == 201
        r = await client.post(f"/api/v1/centers/{C}/windows/r1/call-next", headers=kiosk)
        assert r.status_code == 403


async def test_an_assignment_on_other_weekdays_does_not_serve_the_point_today(settings: Settings) -> None:
    from queue_server.domain.network import local_moment
    async with running_app(settings) as (app, client):
        today, _ = local_moment(app.state.clock.now_ms(), app.state.engine.catalog.centers[C].timezone)
        other_days = [d for d in range(1, 8) if d != today]
        for a in (await client.get(f"/api/v1/centers/{C}/assignments", headers=AUTH)).json()["assignments"]:
            if a["point"] == "sp3":
                assert (await client.delete(f"/api/v1/centers/{C}/assignments/{a['id']}", headers=AUTH)).status_code == 204
        await client.post(f"/api/v1/centers/{C}/windows/r2/open", json={"staff_id": f"{C}-s02"}, headers=AUTH)
        r = await client.post(f"/api/v1/centers/{C}/assignments", headers=AUTH,
                              json={"window": "r2", "point": "sp3", "starts": "00:00", "ends": "24:00", "weekdays": other_days})
        assert r.status_code == 201 and r.json()["weekdays"] == other_days
        body = {"matter": "hrss-001", "channel": "service_point", "service_point": "sp3"}
        r = await client.post(T, json=body, headers=AUTH)
        assert r.status_code == 409 and r.json()["code"] == "point_unserved"
        r = await client.post(f"/api/v1/centers/{C}/assignments", headers=AUTH,
                              json={"window": "r2", "point": "sp3", "starts": "00:00", "ends": "24:00", "weekdays": [today]})
        assert r.status_code == 201
        ticket = (await client.post(T, json=body, headers=AUTH)).json()
        r = await client.post(f"/api/v1/centers/{C}/windows/r2/call-next", headers=AUTH)
        assert r.json()["ticket"]["id"] == ticket["id"]


async def test_overlapping_assignments_sent_at_once_leave_exactly_one(settings: Settings) -> None:
    """What must hold: however requests interleave, a window never gets two overlapping ranges for
    one point (the window's row is locked while the overlap is checked)."""
    async with running_app(settings) as (app, client):
        ranges = [(f"{9 + i % 3:02d}:00", f"{11 + i % 3:02d}:30") for i in range(12)]   # every pair overlaps
        answers = await asyncio.gather(*(
            client.post(f"/api/v1/centers/{C}/assignments", headers=AUTH,
                        json={"window": "r2", "point": "sp1", "starts": s, "ends": e}) for s, e in ranges))
        assert sorted(r.status_code for r in answers) == [201] + [422] * 11
        rows = await _counts(settings)
        demo = sum(len(c.service_points) for c in app.state.engine.catalog.centers.values())   # one each, all day
        assert rows[2] == demo + 1
        assert len([a for a in app.state.engine.catalog.centers[C].assignments if a.window == "r2" and a.point == "sp1"]) == 1
