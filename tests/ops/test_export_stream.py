"""Exports of a year stream: a year of tickets at all 14 centers, bulk-loaded with COPY, leaves through
``queue-server export`` and ``queue-server report`` (the streaming code the HTTP exports use too) as
CSV with a BOM, phones masked — and the process exporting the whole year peaks at the same memory,
within a few MiB, as one exporting a week, where holding the year's rows would take about 100 MiB."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import asyncpg

from loadtests.year_data import load_year
from queue_server.config import Settings
from queue_server.record.demo_data import CENTERS
from queue_server.record.exporter import COLUMNS
from tests.support import AUTH, ROOT, running_app

FIRST = date(2025, 1, 1)


def cli(settings: Settings, *args: str) -> int:
    """Run ``queue-server`` in its own process; its peak resident memory in KiB."""
    env = {**os.environ, "REDIS_URL": settings.redis_url or "", "DATABASE_URL": settings.database_url or ""}
    proc = subprocess.Popen([sys.executable, "-m", "queue_server", *args], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read().decode() if proc.stderr else status
    return usage.ru_maxrss


async def test_a_year_streams_in_bounded_memory(settings: Settings, tmp_path: Path) -> None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        tickets, _ = await load_year(conn, [c["code"] for c in CENTERS], FIRST, 365, per_day=16, events=False)
    finally:
        await conn.close()
    assert tickets > 70_000

    week, year = tmp_path / "week.csv", tmp_path / "year.csv"
    week_kib = cli(settings, "export", "--since", "2025-01-01", "--until", "2025-01-07", "--out", str(week))
    year_kib = cli(settings, "export", "--since", "2025-01-01", "--until", "2025-12-31", "--out", str(year))
    assert year.stat().st_size > 15_000_000
    assert year_kib - week_kib < 16 * 1024, (week_kib, year_kib)
    with year.open(encoding="utf-8", newline="") as f:
        assert f.read(1) == "\ufeff"
        reader = csv.reader(f)
        assert tuple(next(reader)) == COLUMNS
        phones = [row[-1] for _, row in zip(range(2000), reader) if row[-1]]
    assert phones and all(p[3:7] == "****" and len(p) == 11 for p in phones)
    assert sum(1 for _ in year.open(encoding="utf-8")) == tickets + 1

    report = tmp_path / "by-window.csv"
    report_kib = cli(settings, "report", "--since", "2025-01-01", "--until", "2025-12-31", "--by", "window",
                     "--out", str(report))
    assert report_kib - week_kib < 16 * 1024, (week_kib, report_kib)
    rows = list(csv.DictReader(report.open(encoding="utf-8-sig")))
    assert len(rows) > 365 * 14 * 6 and rows[0]["period"] == "2025-01-01" and rows[-1]["period"] == "2025-12-31"
    assert sum(int(r["issued"]) for r in rows) == tickets

    month = tmp_path / "month.csv"
    cli(settings, "report", "--since", "2025-03-01", "--until", "2025-03-31", "--by", "center", "--period", "month",
        "--out", str(month))
    text = month.read_text(encoding="utf-8")
    assert text.startswith("\ufeffperiod,center,issued,") and len(text.strip().splitlines()) == 1 + 14

    async with running_app(settings) as (_, client):
        r = await client.get("/api/v1/ops/tickets.csv", headers=AUTH,
                             params={"since": "2025-03-01", "until": "2025-03-31", "center": "jingansi"})
        assert r.status_code == 200 and r.content.startswith("\ufeff".encode())
        assert 'filename="tickets-jingansi-2025-03-01-2025-03-31.csv"' in r.headers["content-disposition"]
        body = r.content.decode("utf-8-sig").splitlines()
        assert len(body) > 300 and all(line.startswith("jingansi-202503") for line in body[1:])
        r = await client.get("/api/v1/ops/reports", headers=AUTH,
                             params={"since": "2025-03-01", "until": "2025-03-31", "by": "center", "period": "month"})
        assert {row["center"]: row["issued"] for row in r.json()["rows"]} == {
            row["center"]: int(row["issued"]) for row in csv.DictReader(month.open(encoding="utf-8-sig"))}
