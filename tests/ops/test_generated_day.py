"""A generated day at two centers, served through the real API under a fixed clock: the live figures
(first fed live, then warmed up by a new app from what was streamed and recorded, then fed live
again) and the reports from PostgreSQL equal what the test computes from its own ledger."""
from __future__ import annotations

import asyncio
import csv
import io
import time
from dataclasses import replace
from typing import Any

from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.ops.day import START, Day, Ledger, expected_live, expected_report
from tests.support import AUTH, running_app, settled, wait_recorded

C1, C2 = "jingansi", "caojiadu"
DAY = "2026-03-10"


def close(got: Any, want: Any, tol: float) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return abs(got - want) <= tol


async def tablets(client: Any, center: str) -> dict[str, str]:
    out = {}
    for w in ("w1", "w2", "w3", "w4", "w5"):
        r = await client.post("/api/v1/tokens", headers=AUTH, json={"role": "device", "center": center, "window": w,
                                                                      "device_kind": "tablet", "label": f"tablet {w}"})
        out[w] = r.json()["token"]
    return out


def assert_live(got: dict[str, Any], want: dict[str, Any], windows_total: int, what: str) -> None:
    for k in ("issued", "served", "no_shows", "cancelled", "transfers", "called", "waiting", "waiting_total",
              "oldest_waiting_at", "called_1h", "finished_1h", "ratings"):
        assert got[k] == want[k] or (k == "ratings" and _ratings_equal(got[k], want[k])), f"{what}: {k} {got[k]} != {want[k]}"
    for k in ("longest_wait_s", "wait_avg_s", "handling_avg_s", "wait_avg_1h_s", "handling_avg_1h_s"):
        assert close(got[k], want[k], 0.051), f"{what}: {k} {got[k]} != {want[k]}"
    for k in ("service_level", "no_show_rate"):
        assert close(got[k], want[k], 0.0001), f"{what}: {k} {got[k]} != {want[k]}"
    assert got["windows"] == {"open": want["open_windows"], "paused": want["paused_windows"],
                              "closed": windows_total - want["open_windows"] - want["paused_windows"]}, what
    assert got["curve"]["issued"] == want["curve_issued"], what
    assert got["curve"]["served"] == want["curve_served"], what
    assert got["wait_histogram"]["counts"] == want["histogram"], what
    assert got["bad_reviews"]["open"] == want["bad_open"], what


def _ratings_equal(got: dict[str, Any], want: dict[str, Any]) -> bool:
    return {**got, "satisfaction_rate": None} == {**want, "satisfaction_rate": None} and close(
        got["satisfaction_rate"], want["satisfaction_rate"], 0.0001)


async def check_live(client: Any, clock: FixedClock, ledger: Ledger, what: str) -> dict[str, Any]:
    body = (await client.get("/api/v1/ops/figures", headers=AUTH)).json()
    now = clock.now_ms()
    assert body["now"] == now
    for c in (C1, C2):
        assert_live(body["centers"][c], expected_live(ledger, [c], now), 10, f"{what} {c}")
    assert_live(body["district"], expected_live(ledger, [C1, C2], now), 140, f"{what} district")
    return body


def assert_rows(rows: list[dict[str, Any]], want: dict[Any, dict[str, Any]], key, what: str) -> None:  # type: ignore[no-untyped-def]
    got = {key(r): r for r in rows}
    assert set(got) == set(want), what
    for k, w in want.items():
        g = got[k]
        for name, value in w.items():
            tol = 0.051 if name.endswith("_s") else 0.006 if name == "rating_avg" else 0.0001
            if isinstance(value, float) or value is None:
                assert close(g[name], value, tol), f"{what} {k} {name}: {g[name]} != {value}"
            else:
                assert g[name] == value, f"{what} {k} {name}: {g[name]} != {value}"


async def report(client: Any, **params: str) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/ops/reports", headers=AUTH, params={"since": DAY, "until": DAY, **params})
    assert r.status_code == 200, r.text
    return r.json()["rows"]


async def test_a_generated_day_live_warm_and_reported(settings: Settings) -> None:
    settings = replace(settings, extra={"QUEUE_EVAL_TICK_S": "0.05"})
    clock = FixedClock(START)
    ledger = Ledger()
    async with running_app(settings, clock) as (app, client):
        d1 = Day(client, clock, ledger, C1, seed=5, arrivals=100, minutes=150, tablets=await tablets(client, C1))
        d2 = Day(client, clock, ledger, C2, seed=9, arrivals=14, minutes=150, tablets=await tablets(client, C2))
        for w, s in (("w1", "s01"), ("w2", "s02"), ("w3", "s03")):
            await d1.set_window(w, "open", f"{C1}-{s}")
        await d2.set_window("w1", "open", f"{C2}-s01")
        for step in range(150):
            if step == 40:
                await d1.set_window("w4", "open", f"{C1}-s04")
            if step == 100:
                await d1.set_window("w5", "open", f"{C1}-s05")
                await d1.set_window("w5", "pause", reason="午休 lunch")
            await d1.step()
            await d2.step()
            clock.advance(30)
        await settled(app, [C1, C2])
        await check_live(client, clock, ledger, "fed live")

    assert ledger.tickets and ledger.ratings
    async with running_app(settings, clock) as (app, client):
        d1.client = d2.client = client
        await check_live(client, clock, ledger, "warmed up")
        for step in range(150, 305):
            if step == 200 and d1.desks["w2"].phase == "idle":
                await d1.set_window("w2", "close")
            await d1.step()
            await d2.step()
            clock.advance(30)
        await settled(app, [C1, C2])
        live = await check_live(client, clock, ledger, "warmed up, then fed live")
        assert live["centers"][C1]["waiting_total"] > 0 and live["centers"][C1]["no_shows"] > 0

        for c in (C1, C2):
            await wait_recorded(app.state.pool, settings.redis_url, settings, c)
        await assert_reports(client, ledger)

        assert len(ledger.tickets) > 60 and sum(ledger.transfers.values()) > 0
        statuses = {t["status"] for t in ledger.tickets.values()}
        assert {"finished", "no_show", "cancelled", "waiting"} <= statuses
        bad = sum(level <= 2 for level in ledger.ratings.values())
        assert bad > 0
        clock.advance(3 * 86_400)    # Friday: every bad review's callback (1 working day) is overdue

        async def overdue() -> dict[str, Any]:
            deadline = time.monotonic() + 10
            while True:
                body = (await client.get("/api/v1/ops/figures", headers=AUTH)).json()
                if body["district"]["bad_reviews"]["overdue"] == bad or time.monotonic() > deadline:
                    return body
                await asyncio.sleep(0.05)

        later = await overdue()
        assert later["district"]["bad_reviews"] == {"open": bad, "overdue": bad}
        assert later["district"]["day"] == "20260313" and later["district"]["issued"] == 0
        assert later["district"]["waiting_total"] == live["district"]["waiting_total"]


async def assert_reports(client: Any, ledger: Ledger) -> None:
    rows = await report(client, by="center")
    assert all(r["period"] == DAY for r in rows)
    assert_rows(rows, expected_report(ledger, lambda t: t["center"]), lambda r: r["center"], "by center")
    assert_rows(await report(client, by="window"), expected_report(ledger, lambda t: (t["center"], t.get("window"))),
                lambda r: (r["center"], r["window"]), "by window")
    by_staff = await report(client, by="staff")
    assert_rows([r for r in by_staff if r["issued"]], expected_report(ledger, lambda t: ledger.staff_of.get(t["id"])),
                lambda r: r["staff"], "by staff")
    for r in by_staff:     # each clerk's time (tests/ops/test_staff_time.py has the known answers)
        if r["staff"] is not None:
            assert r["on_duty_s"] > 0 and close(r["on_duty_s"], r["serving_s"] + r["idle_s"] + r["paused_s"], 0.2), r
    assert_rows(await report(client, by="matter", center=C1),
                expected_report(Ledger({k: t for k, t in ledger.tickets.items() if t["center"] == C1}, ledger.transfers,
                                       ledger.staff_of, ledger.ratings), lambda t: t["matter"]),
                lambda r: r["matter"], "by matter at one center")
    assert_rows(await report(client, by="channel", period="total"), expected_report(ledger, lambda t: t["channel"]),
                lambda r: r["channel"], "by channel")
    district = expected_report(ledger, lambda t: "all")
    for period, start in (("week", "2026-03-09"), ("month", "2026-03-01"), ("total", None)):
        rows = await report(client, by="", period=period)
        assert [r["period"] for r in rows] == [start]
        assert_rows(rows, district, lambda r: "all", f"district {period}")

    figures = (await client.get("/api/v1/reviews/figures", headers=AUTH,
                                params={"since": DAY, "until": DAY, "by": "center"})).json()["rows"]
    ours = {r["center"]: r for r in await report(client, by="center")}
    for f in figures:
        assert (ours[f["center"]]["rated"], ours[f["center"]]["bad_reviews"]) == (f["rated"], f["bad"])
        assert close(ours[f["center"]]["satisfaction_rate"], f["satisfaction_rate"], 0.0001)

    r = await client.get("/api/v1/ops/reports.csv", headers=AUTH, params={"since": DAY, "until": DAY, "by": "window"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    json_rows = await report(client, by="window")
    assert len(table) == len(json_rows)
    for line, row in zip(table, json_rows):
        assert line == {k: "" if v is None else str(v) for k, v in row.items()}
