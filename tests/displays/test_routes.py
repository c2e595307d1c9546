"""The pages' routes without a browser: every page is served with its security headers, a path
that names nothing is a 404, the ticket QR code encodes the status page, and `queue-server demo`
prints a working link, with a working token, for every page."""
from __future__ import annotations

import io
from dataclasses import replace

import asyncpg
import pytest
import segno

from queue_server.config import Settings
from queue_server.demo_pages import PAGES, demo_links
from tests.support import running_app

PAGES_OK = ["/display/jingansi", "/screen/jingansi/w1", "/tablet/jingansi/r2", "/kiosk/jingansi",
            "/kiosk/jingansi?service_point=sp1", "/status/jingansi-20260101-A001", "/staff/jingansi/w8",
            "/point/jingansi-sp1", "/network/jingansi", "/assistant/jingansi-sp2",
            "/remote", "/remote?center=jingansi&matter=hrss-001",
            "/door/jingansi", "/door/jingansi/visit?visitor=jingansi-s01", "/login", "/admin", "/enroll",
            "/book/jingansi", "/appointments/jingansi", "/audit", "/inspections/jingansi"]
PAGES_MISSING = ["/display/nowhere", "/screen/jingansi/w99", "/tablet/nowhere/w1", "/kiosk/<script>",
                 "/status/not-a-ticket", "/status/nowhere-20260101-A001", "/staff/jingansi/w0",
                 "/point/jingansi-sp99", "/point/nowhere-sp1", "/point/jingansi", "/network/nowhere",
                 "/assistant/jingansi-sp99", "/assistant/jingansi",
                 "/door/nowhere", "/door/nowhere/visit", "/book/nowhere", "/appointments/nowhere", "/inspections/nowhere"]


async def test_pages_are_served_with_their_headers(settings: Settings) -> None:
    async with running_app(settings) as (_, client):
        for path in PAGES_OK:
            r = await client.get(path)
            assert r.status_code == 200, path
            assert r.headers["content-type"].startswith("text/html")
            assert "script-src 'self'" in r.headers["content-security-policy"]
            assert r.headers["referrer-policy"] == "no-referrer"
            assert '<script type="module" src="/assets/' in r.text
        for path in PAGES_MISSING:
            r = await client.get(path)
            assert r.status_code == 404, path
            assert "<script>" not in r.text
        for asset in ("live.js", "i18n.js", "api.js", "common.css", "display.js", "kiosk.css"):
            r = await client.get(f"/assets/{asset}")
            assert r.status_code == 200, asset
        assert (await client.get("/assets/../component.py")).status_code == 404


async def test_ticket_qr_encodes_the_status_page(settings: Settings) -> None:
    settings = replace(settings, public_base_url="https://queue.example.gov.cn")
    async with running_app(settings) as (_, client):
        tid = "jingansi-20260101-A001"
        r = await client.get(f"/api/v1/tickets/{tid}/qr.svg")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("image/svg+xml")
        expected = io.BytesIO()
        segno.make(f"https://queue.example.gov.cn/status/{tid}", error="m").save(
            expected, kind="svg", scale=4, border=2, xmldecl=False)
        assert r.content == expected.getvalue()
        bad = await client.get("/api/v1/tickets/nowhere-20260101-A001/qr.svg")
        assert bad.status_code == 404
        assert bad.headers["content-type"] == "application/problem+json"
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert "get" in paths["/api/v1/tickets/{id}/qr.svg"]


async def test_ticket_qr_is_rate_limited(settings: Settings) -> None:
    async with running_app(replace(settings, rate_limit_per_minute=1)) as (_, client):
        codes = [(await client.get("/api/v1/tickets/jingansi-20260101-A001/qr.svg")).status_code for _ in range(12)]
        assert codes[0] == 200 and codes[-1] == 429


async def test_demo_prints_a_working_link_for_every_page(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    monkeypatch.setenv("QUEUE_KEY_PREFIX", settings.key_prefix)
    # As `queue-server demo` does: the links come before the server starts, on a Redis without state.
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        lines = await demo_links(pool, "http://demo", "jingansi", "admin")
        again = await demo_links(pool, "http://demo", "jingansi", "admin")
    finally:
        await pool.close()
    async with running_app(settings) as (app, client):
        pages = [line for line in lines if any(line.strip().startswith(label) for label, _, _ in PAGES)]
        assert len(pages) == len(PAGES)
        urls_at = {line.index("http://") for line in lines if "http://" in line}
        assert len(urls_at) == 1 and all(line[min(urls_at) - 1] == " " for line in lines if "http://" in line)   # one column
        status_of = [line.split()[-1].split("#")[0] for line in pages if "/status/" in line]
        assert status_of == [line.split()[-1].split("#")[0] for line in again if "/status/" in line]   # one demo ticket a day
        review = next(line.split()[-1] for line in lines if line.strip().startswith("web review"))
        log_ins = next(line for line in lines if line.strip().startswith("log-ins"))
        for name in ("demo.clerk", "demo.manager", "demo.admin"):
            assert name in log_ins
            r = await client.post("/api/v1/login", json={"username": name, "password": log_ins.split()[2].rstrip(":")})
            assert r.status_code == 200 and r.json()["home"], r.text
        assert (await client.get(review.removeprefix("http://demo"))).status_code == 200
        review_token = review.rsplit("/", 1)[1]
        assert [line for line in pages if "/status/" in line][0].endswith(f"#review={review_token}")
        r = await client.get(f"/api/v1/reviews/links/{review_token}")   # the demo ticket's own link, not yet finished
        assert r.status_code == 409 and r.json()["title"] == "Not finished"
        for line in pages:
            url = line.split()[-1].removeprefix("http://demo")
            path, _, query = url.partition("?")
            r = await client.get(url)
            assert r.status_code == 200, line
            token = dict(p.split("=", 1) for p in query.split("&") if p).get("token")
            if "/staff/" in path:
                window = path.rsplit("/", 1)[1]
                r = await client.post(f"/api/v1/centers/jingansi/windows/{window}/open",
                                      headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text
                assert r.json()["staff_id"] == {"w1": "jingansi-s01", "r1": "jingansi-s02"}[window]
            elif path == "/audit":
                r = await client.get("/api/v1/audit", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text
            elif "/kiosk/" in path:
                r = await client.post("/api/v1/centers/jingansi/tickets", json={"matter": "hrss-002"},
                                      headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 201, r.text
            elif "/status/" in path:
                r = await client.get(f"/api/v1/tickets/{path.rsplit('/', 1)[1]}")
                assert r.status_code == 200 and r.json()["matter"] == "hrss-001"
            elif "/point/" in path:
                who = await app.state.tokens.resolve(token)
                assert who is not None and (who.device_kind, who.point) == ("screen", "sp1")
            elif "/assistant/" in path:
                r = await client.get("/api/v1/points/jingansi-sp1/queue", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200 and r.json()["point"]["code"] == "sp1", r.text
            elif path == "/remote":   # public: the center comes preselected
                assert query == "center=jingansi"
                r = await client.get("/api/v1/residents/centers/jingansi")
                assert r.status_code == 200 and r.json()["near_ahead"] == 3
            elif "/appointments/" in path:
                r = await client.post("/api/v1/centers/jingansi/appointment-slots", headers={"Authorization": f"Bearer {token}"},
                                      json={"queue": "nowhere", "starts_at": "2099-01-05T09:00:00+08:00",
                                            "ends_at": "2099-01-05T09:30:00+08:00", "capacity": 1})
                assert r.status_code == 422, r.text      # a manager of the center: past the token, to the line check
            elif "/inspections/" in path:
                r = await client.get("/api/v1/centers/jingansi/inspections/due", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200 and r.json()["center"] == "jingansi", r.text
            elif "/book/" in path:
                r = await client.get("/api/v1/centers/jingansi/appointment-slots")
                assert r.status_code == 200 and r.json()["center"] == "jingansi"
            elif "/network/" in path:
                r = await client.get("/api/v1/points?center=jingansi", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200 and len(r.json()["points"]) == 4
            elif "/visit" in path:
                r = await client.get("/api/v1/centers/jingansi/door/visitors/jingansi-s01/visits",
                                     headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text
            elif "/door/" in path:
                r = await client.get("/api/v1/centers/jingansi/door/cases", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200 and r.json()["cases"], r.text
            elif path in ("/login", "/enroll"):
                assert token is None
            elif path == "/admin":
                r = await client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200 and {t["center"] for t in r.json()["tokens"]} == {"jingansi"}, r.text
            else:
                who = await app.state.tokens.resolve(token)
                assert who is not None and who.device_kind == path.split("/")[1] and who.center == "jingansi"
