"""Each clerk's day from the record, on a scripted day with known answers: served and handling time,
idle (window open, no ticket), serving, and paused time by reason — split at Shanghai midnight, a
window still open counted up to the moment of the report, a clerk who served nobody listed too; the
same in the JSON report, its CSV and the CLI's report."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any

from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.support import AUTH, ROOT, running_app, wait_recorded

C = "jingansi"
START = datetime(2026, 3, 10, 0, 30, tzinfo=timezone.utc)     # Tuesday 08:30 in Shanghai
S1, S2, S3 = f"{C}-s01", f"{C}-s02", f"{C}-s03"
LUNCH, ERRAND = "午休 lunch", "取材料 errand"


async def test_a_clerks_day_served_handling_idle_and_paused_by_reason(settings: Settings) -> None:
    clock = FixedClock(START)
    minute = 0

    def at(m: int) -> None:                      # minutes after 08:30 on 10 March, Shanghai time
        nonlocal minute
        clock.advance((m - minute) * 60)
        minute = m

    async with running_app(settings, clock) as (app, client):
        async def post(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
            r = await client.post(path, headers=AUTH, json=body or {})
            assert r.status_code == 200 or r.status_code == 201, f"{path}: {r.text}"
            return r.json()

        async def window(w: str, verb: str, **body: str) -> None:
            await post(f"/api/v1/centers/{C}/windows/{w}/{verb}", body)

        await window("w1", "open", staff_id=S1)
        await window("w2", "open", staff_id=S2)
        at(5)
        a = await post(f"/api/v1/centers/{C}/tickets", {"matter": "hrss-001"})
        at(10)
        await post(f"/api/v1/centers/{C}/windows/w1/call-next")          # 08:40: idle 10 min until here
        at(12)
        await post(f"/api/v1/tickets/{a['id']}/start")
        at(22)
        await post(f"/api/v1/tickets/{a['id']}/finish")                 # serving 08:40–08:52, handling 10 min
        at(30)
        await window("w1", "pause", reason=LUNCH)                          # 09:00–09:30
        at(60)
        await window("w1", "open", staff_id=S1)
        at(62)
        b = await post(f"/api/v1/centers/{C}/tickets", {"matter": "hrss-001"})
        at(65)
        await post(f"/api/v1/centers/{C}/windows/w1/call-next")
        at(70)
        await post(f"/api/v1/tickets/{b['id']}/no-show")                # serving 09:35–09:40
        at(90)
        await window("w1", "close")                                        # 10:00
        await window("w3", "open", staff_id=S3)                            # and never closed
        at(150)
        await window("w2", "pause", reason=ERRAND)                         # 11:00–11:15
        at(165)
        await window("w2", "open", staff_id=S2)
        at(210)
        await window("w2", "close")                                        # 12:00
        at(920)
        await window("w2", "open", staff_id=S2)                            # 23:50, over midnight
        at(950)
        await window("w2", "close")                                        # 00:20 on the 11th
        at(960)                                                            # the report is made at 00:30
        await wait_recorded(app.state.pool, settings.redis_url, settings, C)

        r = await client.get("/api/v1/ops/reports", headers=AUTH, params={
            "since": "2026-03-10", "until": "2026-03-11", "by": "staff", "center": C})
        assert r.status_code == 200, r.text
        rows = {(row["period"], row["staff"]): row for row in r.json()["rows"]}
        want = {
            ("2026-03-10", S1): dict(issued=2, finished=1, no_shows=1, handling_avg_s=600.0, handling_total_s=600.0,
                                     on_duty_s=5400.0, serving_s=1020.0, idle_s=2580.0, paused_s=1800.0,
                                     paused_by_reason={LUNCH: 1800.0}),
            ("2026-03-10", S2): dict(issued=0, finished=0, handling_avg_s=None, on_duty_s=13200.0, serving_s=0.0,
                                     idle_s=12300.0, paused_s=900.0, paused_by_reason={ERRAND: 900.0}),
            ("2026-03-11", S2): dict(issued=0, on_duty_s=1200.0, idle_s=1200.0, paused_s=0.0, paused_by_reason={}),
            ("2026-03-10", S3): dict(issued=0, on_duty_s=50400.0, idle_s=50400.0, serving_s=0.0),
            ("2026-03-11", S3): dict(issued=0, on_duty_s=1800.0, idle_s=1800.0),
        }
        assert set(rows) == set(want)
        for key, figures in want.items():
            got = rows[key]
            assert {k: got[k] for k in figures} == figures, key
            assert got["on_duty_s"] == got["serving_s"] + got["idle_s"] + got["paused_s"], key
            assert got["staff_name"], key

        r = await client.get("/api/v1/ops/reports.csv", headers=AUTH, params={
            "since": "2026-03-10", "until": "2026-03-10", "by": "staff", "center": C})
        table = {line["staff"]: line for line in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))}
        assert set(table) == {S1, S2, S3}
        assert (table[S1]["idle_s"], table[S1]["paused_by_reason"], table[S1]["finished"]) == ("2580.0", f"{LUNCH}: 1800.0", "1")

    env = {**os.environ, "REDIS_URL": settings.redis_url or "", "DATABASE_URL": settings.database_url or ""}
    done = subprocess.run([sys.executable, "-m", "queue_server", "report", "--since", "2026-03-10", "--until", "2026-03-10",
                           "--by", "staff", "--center", C, "--format", "json"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    cli = {row["staff"]: row for row in json.loads(done.stdout)["rows"]}
    assert cli[S1] == rows[("2026-03-10", S1)] and cli[S2] == rows[("2026-03-10", S2)]
