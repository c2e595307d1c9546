"""Bad input to the evaluation endpoints: a problem+json 4xx naming the field, never a 500, nothing
written; outsiders are rate-limited."""
from __future__ import annotations

from dataclasses import replace

from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.evaluation.conftest import C, desk_for, eval_settings
from tests.support import AUTH

R = "/api/v1/reviews"


async def test_bad_input_gets_problem_json(settings: Settings, clock: FixedClock) -> None:
    async with desk_for(eval_settings(settings, TWILIO_AUTH_TOKEN="webhook-secret"), clock) as desk:
        t = await desk.serve("w1")
        tablet = await desk.token("device", "w1", "tablet")
        manager = await desk.token("manager")
        cases = [
            # (method, path, body (dict, bytes or None), headers, status, field)
            ("POST", R, b'{"level": ', tablet, 400, None),
            ("POST", R, b"[5]", tablet, 422, None),
            ("POST", R, b'{"x": "' + b"y" * 20000 + b'"}', tablet, 413, None),
            ("POST", R, {"level": 5, "channel": "tablet"}, tablet, 422, "ticket_id"),
            ("POST", R, {"ticket_id": t["id"], "channel": "tablet"}, tablet, 422, "level"),
            ("POST", R, {"ticket_id": t["id"], "level": 5}, tablet, 422, "channel"),
            ("POST", R, {"ticket_id": t["id"], "level": 5, "channel": "tablet", "reasons": ["other"] * 7}, tablet, 422, "reasons"),
            ("POST", R, {"ticket_id": t["id"], "level": 5, "channel": "tablet", "reasons": "attitude"}, tablet, 422, "reasons"),
            ("POST", R, {"ticket_id": t["id"], "level": 5.5, "channel": "tablet"}, tablet, 422, "level"),
            ("POST", R, {"ticket_id": t["id"], "level": 5, "channel": "web", "link": "../../etc/passwd" + "a" * 10}, {}, 422, "link"),
            ("POST", R + "/links", {"ticket_id": t["id"], "round": 3}, AUTH, 422, "round"),
            ("POST", R + "/links", {}, AUTH, 422, "ticket_id"),
            ("POST", R + "/links", {"ticket_id": "nowhere-20261130-A001"}, AUTH, 404, None),
            ("GET", R + "/figures?by=window,window", None, manager, 422, "by"),
            ("GET", R + "/figures?since=2025-01-01&until=2026-11-30", None, manager, 422, "since"),
            ("GET", R + "/figures", None, AUTH | {"Authorization": "Bearer " + "x" * 300}, 401, None),
            ("GET", R + "/figures", None, await desk.token("staff", "w1", staff=f"{C}-s01"), 403, None),
            ("GET", R + "/export.csv?until=x", None, manager, 422, "until"),
            ("GET", R + "/export.csv", None, await desk.token("device", None, "dashboard"), 403, None),
            ("GET", "/api/v1/rectifications?state=lost", None, manager, 422, "state"),
            ("GET", "/api/v1/rectifications", None, AUTH, 200, None),
            ("GET", "/api/v1/rectifications/abc", None, manager, 404, None),
            ("GET", "/api/v1/rectifications/99999999999999999999999", None, manager, 404, None),
            ("POST", "/api/v1/rectifications/1/contact", {"note": "x" * 1001}, manager, 404, None),
            ("GET", "/api/v1/rectifications/%C2%B9", None, manager, 404, None),     # isdigit accepts ¹; int refuses it
            ("POST", "/api/v1/rectifications/%C2%B2/note", {"note": "x"}, manager, 404, None),
            ("POST", "/sms/twilio/inbound", {}, {}, 403, None),
            ("POST", "/sms/twilio/status", {}, {}, 403, None),
        ]
        for method, path, body, headers, status, field in cases:
            if isinstance(body, bytes):
                r = await desk.client.request(method, path, content=body, headers={**headers, "content-type": "application/json"})
            elif method == "POST" and path.startswith("/sms/"):
                r = await desk.client.post(path, data=body, headers=headers)
            else:
                r = await desk.client.request(method, path, json=body, headers=headers)
            assert r.status_code == status, (method, path, body if not isinstance(body, bytes) else body[:40], r.text)
            if status >= 400:
                assert r.headers["content-type"] == "application/problem+json", path
            if field:
                assert field in {e["field"] for e in r.json()["errors"]}, (path, r.json())
        signed_without_sender = await desk.sms({"MessageSid": "SM" + "0" * 32, "Body": "5"})
        assert signed_without_sender.status_code == 422 and signed_without_sender.json()["errors"][0]["field"] == "From"
        signed_nul = await desk.sms({"MessageSid": "SM\x00" + "0" * 30, "From": "+8613800000000", "Body": "5"})
        assert signed_nul.status_code == 422 and signed_nul.json()["errors"][0]["field"] == "MessageSid", signed_nul.text
        signed_status = await desk.sms({"MessageSid": "SM" + "0" * 32}, path="/sms/twilio/status")
        assert signed_status.status_code == 422
        for table in ("reviews", "review_links", "rectifications", "sms_inbound", "sms_status_events"):
            assert await desk.pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table


async def test_outsiders_are_rate_limited(settings: Settings, clock: FixedClock) -> None:
    async with desk_for(replace(eval_settings(settings), rate_limit_per_minute=40), clock) as desk:
        statuses = [(await desk.client.get(f"/api/v1/reviews/links/{'A' * 32}")).status_code for _ in range(12)]
        assert statuses[:10] == [404] * 10 and statuses[-1] == 429
        forged = [(await desk.client.post("/sms/twilio/inbound", data={"From": "+8613800000000"})).status_code
                  for _ in range(12)]
        assert forged[:10] == [403] * 10 and forged[-1] == 429
        r = await desk.rate(f"{C}-20261130-A001", 5, channel="web", link="A" * 32)
        assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"


async def test_a_device_mints_review_links_at_a_limited_rate(settings: Settings, clock: FixedClock) -> None:
    """A kiosk token minted 300 links out of 300 asked: each device's links share its rate limit."""
    async with desk_for(replace(eval_settings(settings), rate_limit_per_minute=40), clock) as desk:
        t = await desk.serve("w1")
        kiosk, other = await desk.token("device", None, "kiosk"), await desk.token("device", None, "kiosk")
        codes = [(await desk.client.post(R + "/links", json={"ticket_id": t["id"]}, headers=kiosk)).status_code
                 for _ in range(12)]
        assert codes[:10] == [201] * 10 and codes[-1] == 429
        assert (await desk.client.post(R + "/links", json={"ticket_id": t["id"]}, headers=other)).status_code == 201
        assert (await desk.client.post(R + "/links", json={"ticket_id": t["id"]}, headers=AUTH)).status_code == 201
