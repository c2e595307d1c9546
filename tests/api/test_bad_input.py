"""Bad input gets the right 4xx problem+json, and writes nothing."""
from __future__ import annotations

import pytest

from queue_server.config import Settings
from queue_server.record.people import create_token
from tests.support import AUTH, running_app

C = "jingansi"
T = "/api/v1/centers/jingansi/tickets"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CASES = [
    # (name, method, path, json body or raw bytes, headers key, expected status, field named)
    ("unknown center", "POST", "/api/v1/centers/nowhere/tickets", {"matter": "hrss-001"}, "admin", 404, None),
    ("unknown matter", "POST", T, {"matter": "nope-999"}, "admin", 422, None),
    ("matter wrong type", "POST", T, {"matter": 12}, "admin", 422, "matter"),
    ("matter missing", "POST", T, {}, "admin", 422, "matter"),
    ("oversized matter", "POST", T, {"matter": "x" * 500}, "admin", 422, "matter"),
    ("unknown field", "POST", T, {"matter": "hrss-001", "vip": True}, "admin", 422, "vip"),
    ("bad channel", "POST", T, {"matter": "hrss-001", "channel": "fax"}, "admin", 422, "channel"),
    ("bad priority", "POST", T, {"matter": "hrss-001", "priority": "vip"}, "admin", 422, "priority"),
    ("bad phone", "POST", T, {"matter": "hrss-001", "phone": "12345"}, "admin", 422, "phone"),
    ("phone too long", "POST", T, {"matter": "hrss-001", "phone": "1" * 40}, "admin", 422, "phone"),
    ("appointment in 1970", "POST", T, {"matter": "hrss-001", "appointment_at": "1970-01-01T09:00:00+08:00"}, "admin", 422,
     "appointment_at"),
    ("appointment in 0001", "POST", T, {"matter": "hrss-001", "appointment_at": "0001-01-01T09:00:00+08:00"}, "admin", 422,
     "appointment_at"),
    ("appointment in 9999", "POST", T, {"matter": "hrss-001", "appointment_at": "9999-01-01T09:00:00+08:00"}, "admin", 422,
     "appointment_at"),
    ("unknown service point", "POST", T, {"matter": "hrss-001", "channel": "service_point", "service_point": "sp99"},
     "admin", 422, None),
    ("service point channel without its point", "POST", T, {"matter": "hrss-001", "channel": "service_point"}, "admin",
     422, "service_point"),
    ("service point on a lobby ticket", "POST", T, {"matter": "hrss-001", "service_point": "sp1"}, "admin", 422,
     "service_point"),
    ("malformed json", "POST", T, b'{"matter": ', "admin", 400, None),
    ("json not an object", "POST", T, b"[1, 2]", "admin", 422, None),
    ("oversized body", "POST", T, b'{"matter": "' + b"x" * 20000 + b'"}', "admin", 413, None),
    ("missing token", "POST", T, {"matter": "hrss-001"}, None, 401, None),
    ("wrong token", "POST", T, {"matter": "hrss-001"}, "wrong", 401, None),
    ("token of another center", "POST", T, {"matter": "hrss-001"}, "other_center_kiosk", 403, None),
    ("display may not issue", "POST", T, {"matter": "hrss-001"}, "display", 403, None),
    ("unknown window", "POST", "/api/v1/centers/jingansi/windows/w99/call-next", {}, "admin", 404, None),
    ("window not open", "POST", "/api/v1/centers/jingansi/windows/w2/call-next", {}, "admin", 409, None),
    ("staff of another window", "POST", "/api/v1/centers/jingansi/windows/w2/open", {}, "staff_w1", 403, None),
    ("open without staff", "POST", "/api/v1/centers/jingansi/windows/w2/open", {}, "admin", 422, "staff_id"),
    ("open with foreign staff", "POST", "/api/v1/centers/jingansi/windows/w2/open", {"staff_id": "caojiadu-s01"},
     "admin", 422, "staff_id"),
    ("pause without reason", "POST", "/api/v1/centers/jingansi/windows/w1/pause", {}, "admin", 422, "reason"),
    ("named call without reason", "POST", "/api/v1/centers/jingansi/windows/w1/call-next", {"ticket": "jingansi-x"},
     "admin", 422, "reason"),
    ("unknown ticket", "POST", "/api/v1/tickets/jingansi-20991231-A001/start", {}, "admin", 404, None),
    ("ticket of unknown center", "GET", "/api/v1/tickets/zzz-20991231-A001", None, None, 404, None),
    ("unknown action", "POST", "/api/v1/tickets/jingansi-20991231-A001/explode", {}, "admin", 404, None),
    ("illegal transition", "POST", "/api/v1/tickets/{waiting}/finish", {}, "admin", 409, None),
    ("transfer to nowhere", "POST", "/api/v1/tickets/{waiting}/transfer", {"to_queue": "zzz"}, "admin", 422, None),
    ("transfer to both", "POST", "/api/v1/tickets/{waiting}/transfer", {"to_queue": "quick", "to_window": "w1"}, "admin",
     422, None),
    ("kiosk may not act on tickets", "POST", "/api/v1/tickets/{waiting}/cancel", {}, "kiosk", 403, None),
    ("staff of another center", "POST", "/api/v1/tickets/{waiting}/cancel", {}, "other_center_staff", 403, None),
    ("bad idempotency key", "POST", T, {"matter": "hrss-001"}, "admin+badkey", 422, "Idempotency-Key"),
    ("manager may not mint managers", "POST", "/api/v1/tokens", {"role": "manager", "center": C}, "manager", 403, None),
    ("device token needs a kind", "POST", "/api/v1/tokens", {"role": "device", "center": C}, "admin", 422, "device_kind"),
    ("a device at a window and a point", "POST", "/api/v1/tokens",   # found by tests/fuzz: was a 500
     {"role": "device", "center": C, "device_kind": "kiosk", "window": "w1", "point": "sp1"}, "admin", 422, "point"),
    ("unknown route", "GET", "/api/v1/nothing-here", None, None, 404, None),
    ("wrong method", "DELETE", "/api/v1/centers", None, None, 405, None),
]


@pytest.mark.parametrize("name,method,path,body,who,status,field", CASES, ids=[c[0] for c in CASES])
async def test_bad_input(settings: Settings, name, method, path, body, who, status, field) -> None:
    async with running_app(settings) as (app, client):
        pool = app.state.pool
        tokens = {
            "admin": AUTH,
            "wrong": bearer("qs_not-a-token"),
            "other_center_kiosk": bearer(await create_token(pool, "device", "caojiadu", device_kind="kiosk")),
            "other_center_staff": bearer(await create_token(pool, "staff", "caojiadu", "w1", "caojiadu-s01")),
            "display": bearer(await create_token(pool, "device", C, device_kind="display")),
            "kiosk": bearer(await create_token(pool, "device", C, device_kind="kiosk")),
            "staff_w1": bearer(await create_token(pool, "staff", C, "w1", f"{C}-s01")),
            "manager": bearer(await create_token(pool, "manager", C)),
            "admin+badkey": {**AUTH, "Idempotency-Key": "bad\x01key"},
        }
        await client.post(f"/api/v1/centers/{C}/windows/w1/open", headers=AUTH, json={"staff_id": f"{C}-s01"})
        waiting = (await client.post(T, headers=AUTH, json={"matter": "hrss-001"})).json()["id"]
        before = await app.state.redis.xlen(app.state.keys.events(C))
        headers = tokens.get(who, {}) if who else {}
        kwargs = {"content": body} if isinstance(body, bytes) else {"json": body} if body is not None else {}
        r = await client.request(method, path.replace("{waiting}", waiting), headers=headers, **kwargs)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == status and problem["title"]
        if field:
            assert field in [e["field"] for e in problem["errors"]], problem
        assert await app.state.redis.xlen(app.state.keys.events(C)) == before
        assert (await client.get(f"/api/v1/tickets/{waiting}")).json()["status"] == "waiting"


async def test_a_busy_window_says_which_ticket_is_still_there(settings: Settings) -> None:
    """A console that lost track (a reload, a second tab) resyncs from the refusal itself."""
    async with running_app(settings) as (app, client):
        await client.post(f"/api/v1/centers/{C}/windows/w1/open", headers=AUTH, json={"staff_id": f"{C}-s01"})
        first = (await client.post(T, headers=AUTH, json={"matter": "hrss-001"})).json()["id"]
        await client.post(T, headers=AUTH, json={"matter": "hrss-001"})
        assert (await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH, json={})).status_code == 200
        before = await app.state.redis.xlen(app.state.keys.events(C))
        r = await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH, json={})
        assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert (problem["code"], problem["current_ticket"], problem["current_status"]) == ("window_busy", first, "called")
        assert problem["detail"] == f"window w1 still has ticket {first} called"
        assert await app.state.redis.xlen(app.state.keys.events(C)) == before


async def test_rate_limit_for_kiosks(services, database_url) -> None:
    settings = services.settings(database_url, rate_limit_per_minute=60)
    async with running_app(settings) as (app, client):
        kiosk = bearer(await create_token(app.state.pool, "device", C, device_kind="kiosk"))
        codes = [(await client.post(T, headers=kiosk, json={"matter": "hrss-001"})).status_code for _ in range(20)]
        assert codes[:15] == [201] * 15 and codes[-1] == 429
