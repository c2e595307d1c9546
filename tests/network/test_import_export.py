"""Service points through the CLI's import and export, as CSV and as JSON: a round trip keeps them,
a status in the file is a legal change with its history, and a bad file imports nothing."""
from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import asyncpg
import pytest

from queue_server import cli
from queue_server.config import Settings
from queue_server.record.exporter import export_points
from queue_server.record.importer import import_catalog

C = "jingansi"


async def _fetch(settings: Settings, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def test_points_round_trip_as_csv_with_status_changes_in_their_history(settings: Settings, tmp_path: Path) -> None:
    out = io.StringIO()
    assert await export_points(settings.database_url, C, out, "csv") == 4
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["code"] for r in rows] == ["sp1", "sp2", "sp3", "sp4"] and rows[0]["status"] == "active"
    rows[1]["status"] = "suspended"
    rows.append({**rows[0], "code": "xk_park", "name_zh": "=新康公园", "kind": "park", "lat": "31.2304",
                 "lng": "121.4491", "status": "planned"})
    path = tmp_path / "points.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert await import_catalog(settings.database_url, path) == {"service_points": 5}
    got = {r["code"]: r for r in await _fetch(settings, "SELECT * FROM service_points WHERE center = $1", C)}
    assert got["sp2"]["status"] == "suspended" and got["xk_park"]["status"] == "planned"
    assert got["xk_park"]["lat"] == pytest.approx(31.2304) and got["xk_park"]["name_zh"] == "=新康公园"
    history = [(r["point"], r["from_status"], r["to_status"], r["changed_by"]) for r in await _fetch(
        settings, "SELECT * FROM service_point_changes WHERE center = $1 ORDER BY id", C)]
    assert history == [("sp2", "active", "suspended", "import"), ("xk_park", None, "planned", "import")]
    again = io.StringIO()
    await export_points(settings.database_url, C, again, "csv")
    assert "'=新康公园" in again.getvalue()      # safe for Excel, and read back as it was
    assert await import_catalog(settings.database_url, path) == {"service_points": 5}
    assert len(await _fetch(settings, "SELECT * FROM service_point_changes")) == 2


@pytest.mark.parametrize(("what", "change"), [
    ("illegal status change", lambda r: {**r, "status": "planned"}),
    ("latitude out of range", lambda r: {**r, "lat": "95"}),
    ("longitude not a number", lambda r: {**r, "lng": "east"}),
    ("unknown kind", lambda r: {**r, "kind": "mall"}),
])
async def test_a_bad_points_csv_imports_nothing(settings: Settings, tmp_path: Path, what: str, change: object) -> None:
    out = io.StringIO()
    await export_points(settings.database_url, C, out, "csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    rows[0]["name_zh"] = "改名"
    rows[-1] = change(rows[-1])  # type: ignore[operator]
    path = tmp_path / "points.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(ValueError):
        await import_catalog(settings.database_url, path)
    assert (await _fetch(settings, "SELECT name_zh FROM service_points WHERE center = $1 AND code = 'sp1'", C))[0][0] != "改名"
    assert await _fetch(settings, "SELECT * FROM service_point_changes") == []


async def test_points_and_assignments_round_trip_as_json_through_the_cli(settings: Settings, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    path = tmp_path / "network.json"
    await asyncio.to_thread(cli.main, ["export", "--points", "--center", C, "--out", str(path)])
    data = json.loads(path.read_text(encoding="utf-8"))
    assert len(data["service_points"]) == 4
    assert {(a["window"], a["point"], a["starts"], a["ends"]) for a in data["remote_assignments"]} == {
        ("r1", "sp1", "00:00", "24:00"), ("r1", "sp2", "00:00", "24:00"),
        ("r2", "sp3", "00:00", "24:00"), ("r2", "sp4", "00:00", "24:00")}
    assert {tuple(a["weekdays"]) for a in data["remote_assignments"]} == {(1, 2, 3, 4, 5, 6, 7)}
    data["remote_assignments"] += [
        {"center": C, "window": "r2", "point": "sp1", "starts": "13:00", "ends": "16:30", "weekdays": [1, 3]},
        {"center": C, "window": "r2", "point": "sp1", "starts": "15:00", "ends": "17:00", "weekdays": [2]}]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    await asyncio.to_thread(cli.main, ["import", str(path)])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"service_points": 4, "remote_assignments": 2}
    await asyncio.to_thread(cli.main, ["export", "--points", "--center", C, "--out", str(path)])
    assert [a["weekdays"] for a in json.loads(path.read_text(encoding="utf-8"))["remote_assignments"]
            if (a["window"], a["point"]) == ("r2", "sp1")] == [[1, 3], [2]]
    data["remote_assignments"].append({"center": C, "window": "r2", "point": "sp1", "starts": "16:00", "ends": "17:00"})
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        await asyncio.to_thread(cli.main, ["import", str(path)])
    assert "overlapping" in str(exc.value)
    assert len(await _fetch(settings, "SELECT * FROM remote_assignments WHERE center = $1", C)) == 6
