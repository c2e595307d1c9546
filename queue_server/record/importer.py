"""Import a catalog from a JSON file shaped like the demo data: {"centers": [...], "matters": [...],
"queues": [...], "windows": [...], "service_points": [...], "remote_assignments": [...], "staff": [...]}
(rows carry their center; a matter may carry its checklist as ``items``), or service points alone from a CSV file with POINT_COLUMNS as its header
(what ``export --points`` writes). A point's status in the file goes through the legal changes and
into its history like any other change."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import asyncpg

from ..domain.materials import FORMS
from ..domain.network import KINDS, STATUSES, Assignment, may_change, overlapping, parse_hhmm, weekdays_of
from .exporter import FORMULA_LEAD, POINT_COLUMNS
from .migrate import migrate

IMPORTED_BY = "import"

TABLES = {
    "centers": ("code", "name_zh", "name_en", "address", "timezone", "hours", "lat", "lng"),
    "matters": ("code", "name_zh", "name_en", "bureau", "bureau_zh", "bureau_en", "whole_city", "remote_eligible",
                "door_to_door_eligible", "materials", "typical_minutes"),
    "queues": ("center", "code", "prefix", "name_zh", "name_en", "matters", "channels"),
    "service_points": ("center", "code", "name_zh", "name_en", "kind", "address", "lat", "lng"),
    "windows": ("center", "code", "name_zh", "name_en", "kind", "queues"),
    "staff": ("id", "center", "employee_no", "name", "photo_url"),
}


def _cell(text: str) -> str:
    """A CSV cell back from its spreadsheet-safe form (the exporter prefixes formula-like text with ')."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_LEAD) else text


def read_points_csv(path: Path) -> dict[str, Any]:
    """Service points from a CSV file (UTF-8, with or without BOM), as the JSON import holds them."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in POINT_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path.name}: the header lacks {', '.join(missing)}")
        rows = []
        for n, raw in enumerate(reader, start=2):
            row: dict[str, Any] = {c: _cell((raw.get(c) or "").strip()) for c in POINT_COLUMNS}
            for c in ("lat", "lng"):
                try:
                    row[c] = float(row[c]) if row[c] else None
                except ValueError:
                    raise ValueError(f"{path.name} line {n}: {c} is not a number: {row[c]!r}") from None
            row["status"] = row["status"] or None
            rows.append(row)
    return {"service_points": rows}


def check_positions(what: str, rows: list[dict[str, Any]]) -> None:
    for n, r in enumerate(rows, start=1):
        for c, bound in (("lat", 90), ("lng", 180)):
            v = r.get(c)
            if v is not None and not (isinstance(v, (int, float)) and -bound <= v <= bound):
                raise ValueError(f"{what} {n} ({r.get('code')}): {c} must be a number within ±{bound}")


def check_points(rows: list[dict[str, Any]]) -> None:
    check_positions("service point", rows)
    for n, r in enumerate(rows, start=1):
        if r.get("kind") not in KINDS:
            raise ValueError(f"service point {n} ({r.get('code')}): kind must be one of {', '.join(KINDS)}")
        if r.get("status") not in (None, *STATUSES):
            raise ValueError(f"service point {n} ({r.get('code')}): status must be one of {', '.join(STATUSES)}")


def material_items(matters: list[dict[str, Any]]) -> dict[str, list[tuple]]:
    """The checklists the file's matters carry (``items``: name_zh, name_en, form original|copy, copies,
    to_center), numbered in order; a matter with ``items`` has exactly those afterwards."""
    out: dict[str, list[tuple]] = {}
    for m in matters:
        if "items" not in m:
            continue
        rows = []
        for n, it in enumerate(m["items"] or [], start=1):
            where = f"matter {m.get('code')} item {n}"
            if not (isinstance(it, dict) and it.get("name_zh") and it.get("name_en")):
                raise ValueError(f"{where}: name_zh and name_en are required")
            if it.get("form", "original") not in FORMS:
                raise ValueError(f"{where}: form must be one of {', '.join(FORMS)}")
            copies = it.get("copies", 1)
            if not (isinstance(copies, int) and 1 <= copies <= 20):
                raise ValueError(f"{where}: copies must be a whole number from 1 to 20")
            rows.append((n, it["name_zh"], it["name_en"], it.get("form", "original"), copies, bool(it.get("to_center"))))
        out[m["code"]] = rows
    return out


async def import_catalog(database_url: str, path: Path) -> dict[str, int]:
    """Upsert every row in one transaction: all of the file or none of it."""
    data = read_points_csv(path) if path.suffix.lower() == ".csv" else json.loads(path.read_text(encoding="utf-8"))
    check_points(data.get("service_points", []))
    check_positions("center", data.get("centers", []))
    checklists = material_items(data.get("matters", []))
    counts: dict[str, int] = {}
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        async with conn.transaction():
            before = {(r["center"], r["code"]): r["status"]
                      for r in await conn.fetch("SELECT center, code, status FROM service_points")}
            for table, cols in TABLES.items():
                rows = data.get(table, [])
                if not rows:
                    continue
                placeholders = ", ".join(f"${i + 1}" + ("::jsonb" if c == "hours" else "") for i, c in enumerate(cols))
                key = ("id",) if table == "staff" else ("code",) if table in ("centers", "matters") else ("center", "code")
                updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in key)
                await conn.executemany(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({placeholders})"
                    f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}",
                    [tuple(json.dumps(r[c]) if c == "hours" else r.get(c) for c in cols) for r in rows])
                counts[table] = len(rows)
            await _point_statuses(conn, data.get("service_points", []), before)
            if checklists:
                await conn.executemany("DELETE FROM matter_materials WHERE matter = $1", [(m,) for m in checklists])
                await conn.executemany("INSERT INTO matter_materials (matter, item, name_zh, name_en, form, copies, to_center)"
                                       " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                                       [(m, *row) for m, rows in checklists.items() for row in rows])
                counts["matter_materials"] = sum(len(rows) for rows in checklists.values())
            if data.get("remote_assignments"):
                counts["remote_assignments"] = await _assignments(conn, data["remote_assignments"])
    finally:
        await conn.close()
    return counts


async def _point_statuses(conn: asyncpg.Connection, rows: list[dict[str, Any]], before: dict[tuple[str, str], str]) -> None:
    """A new point starts in the file's status (active if none); a known one changes only by a legal
    change; each start and change is a line of the point's history."""
    changes = []
    for r in rows:
        key = (r["center"], r["code"])
        current, wanted = before.get(key), r.get("status") or (None if key in before else "active")
        if wanted is None or wanted == current:
            continue
        if current is not None and not may_change(current, wanted):
            raise ValueError(f"service point {r['center']}/{r['code']} is {current}; it cannot become {wanted}")
        changes.append((r["center"], r["code"], current, wanted))
    await conn.executemany("UPDATE service_points SET status = $4 WHERE center = $1 AND code = $2"
                           " AND status IS NOT DISTINCT FROM coalesce($3, status)", changes)
    await conn.executemany("INSERT INTO service_point_changes (center, point, from_status, to_status, changed_by, reason)"
                           f" VALUES ($1, $2, $3, $4, '{IMPORTED_BY}', 'imported')", changes)


async def _assignments(conn: asyncpg.Connection, rows: list[dict[str, Any]]) -> int:
    """Remote windows' ranges ({center, window, point, starts, ends} with HH:MM times, and weekdays as
    ISO numbers, every day if absent); one already there is kept, one that overlaps another of its
    window and point refuses the file."""
    added = 0
    for n, r in enumerate(rows, start=1):
        try:
            new = Assignment(0, r["window"], r["point"], parse_hhmm(r["starts"]), parse_hhmm(r["ends"], allow_end_of_day=True),
                             weekdays_of(r.get("weekdays")))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"remote assignment {n}: {exc}") from None
        if new.ends <= new.starts:
            raise ValueError(f"remote assignment {n}: ends must be after starts")
        kind = await conn.fetchval("SELECT kind FROM windows WHERE center = $1 AND code = $2", r["center"], new.window)
        if kind != "remote":
            raise ValueError(f"remote assignment {n}: {r['center']}/{new.window} is not a remote window")
        existing = [Assignment(e["id"], new.window, new.point, e["starts_min"], e["ends_min"], frozenset(e["weekdays"]))
                    for e in await conn.fetch("SELECT id, starts_min, ends_min, weekdays FROM remote_assignments"
                                              " WHERE center = $1 AND window_code = $2 AND point = $3",
                                              r["center"], new.window, new.point)]
        if any((e.starts, e.ends, e.weekdays) == (new.starts, new.ends, new.weekdays) for e in existing):
            continue
        if overlapping(new, existing) is not None:
            raise ValueError(f"remote assignment {n}: {new.window} already serves {new.point} in an overlapping range")
        await conn.execute("INSERT INTO remote_assignments (center, window_code, point, starts_min, ends_min, weekdays,"
                           f" created_by) VALUES ($1, $2, $3, $4, $5, $6, '{IMPORTED_BY}')", r["center"], new.window,
                           new.point, new.starts, new.ends, sorted(new.weekdays))
        added += 1
    return added
