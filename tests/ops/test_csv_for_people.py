"""CSV made for people: every time in the center's timezone (the district reads Shanghai time, not
``+00:00``), and no cell Excel would run as a formula — in the ticket export (HTTP and CLI), the
reports and the ratings export, all written through one helper."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.record.exporter import excel_cell, export_tickets
from tests.support import AUTH, running_app, wait_recorded

C = "jingansi"
DAY = "2026-11-30"
START = datetime(2026, 11, 30, 1, 5, tzinfo=timezone.utc)        # 09:05 in Shanghai


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_a_text_that_starts_like_a_formula_is_shown_not_run(text: str) -> None:
    assert excel_cell(text) == "'" + text


def test_other_cells_are_left_as_they_are() -> None:
    assert [excel_cell(v) for v in ("A012", "窗口 1", "", None, -3, 1.5)] == ["A012", "窗口 1", "", "", -3, 1.5]


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


async def test_exports_write_shanghai_time_and_neutralise_formulas(settings: Settings) -> None:
    clock = FixedClock(START)
    async with running_app(settings, clock) as (app, client):
        tablet = (await client.post("/api/v1/tokens", headers=AUTH, json={
            "role": "device", "center": C, "window": "w1", "device_kind": "tablet", "label": "tablet"})).json()["token"]
        await client.post(f"/api/v1/centers/{C}/windows/w1/open", headers=AUTH, json={"staff_id": f"{C}-s01"})
        t = (await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})).json()
        clock.advance(60)
        await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH)
        await client.post(f"/api/v1/tickets/{t['id']}/start", headers=AUTH)
        clock.advance(240)
        await client.post(f"/api/v1/tickets/{t['id']}/finish", headers=AUTH)
        rated = await client.post("/api/v1/reviews", headers={"Authorization": f"Bearer {tablet}"}, json={
            "ticket_id": t["id"], "level": 1, "channel": "tablet", "reasons": ["attitude"], "comment": "=1+2"})
        assert rated.status_code < 300, rated.text
        await wait_recorded(app.state.pool, settings.redis_url, settings, C)

        exported = await client.get("/api/v1/ops/tickets.csv", headers=AUTH, params={"since": DAY, "until": DAY})
        assert "+00:00" not in exported.text
        (ticket,) = rows(exported.text)
        assert (ticket["issued_at"], ticket["called_at"], ticket["finished_at"]) == (
            "2026-11-30 09:05:00", "2026-11-30 09:06:00", "2026-11-30 09:10:00")

        report = await client.get("/api/v1/ops/reports.csv", headers=AUTH, params={"since": DAY, "until": DAY, "by": "staff"})
        assert "+00:00" not in report.text and rows(report.text)[0]["staff"] == f"{C}-s01"

        ratings = await client.get("/api/v1/reviews/export.csv", headers=AUTH, params={"since": DAY, "until": DAY})
        assert ratings.status_code == 200 and "+00:00" not in ratings.text
        (rating,) = rows(ratings.text)
        assert rating["rated_at"] == "2026-11-30 09:10:00" and rating["comment"] == "'=1+2"

    out = io.StringIO()
    assert await export_tickets(settings.database_url, DAY, DAY, C, out) == 1
    assert "+00:00" not in out.getvalue() and rows(out.getvalue())[0]["ended_at"] == "2026-11-30 09:10:00"
