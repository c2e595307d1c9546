"""The opening calendar in PostgreSQL: read whole into a domain Calendar, hours set per center or
point, and the operator's calendar file (TOML) stored in place of the last one."""
from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from ..domain.calendar import Calendar, Hours, HoursError, LocalEntry, parse_span


async def load_calendar(pool: asyncpg.Pool | asyncpg.Connection) -> Calendar:
    centers = await pool.fetch("SELECT code, timezone, hours FROM centers")
    points = await pool.fetch("SELECT center, point, hours FROM point_hours")
    entries = await pool.fetch("SELECT * FROM calendar_entries ORDER BY line")
    official = await pool.fetch("SELECT day, working FROM calendar_official")
    return Calendar(
        centers={r["code"]: Hours.parse(json.loads(r["hours"])) for r in centers},
        points={(r["center"], r["point"]): Hours.parse(json.loads(r["hours"])) for r in points},
        entries=[LocalEntry(r["first_day"], r["last_day"], (r["opens"], r["closes"]) if r["opens"] else None,
                            r["center"], r["point"], r["reason"]) for r in entries],
        official={r["day"]: r["working"] for r in official},
        timezones={r["code"]: r["timezone"] for r in centers},
    )


async def store_hours(pool: asyncpg.Pool, center: str, point: str | None, hours: Hours) -> None:
    """A center's weekly hours, or a point's own; ``Hours.parse(None)`` for a point: back to its center's."""
    if point is None:
        await pool.execute("UPDATE centers SET hours = $2::jsonb WHERE code = $1", center, json.dumps(hours.to_json()))
    elif not hours.configured:
        await pool.execute("DELETE FROM point_hours WHERE center = $1 AND point = $2", center, point)
    else:
        await pool.execute(
            "INSERT INTO point_hours (center, point, hours) VALUES ($1, $2, $3::jsonb)"
            " ON CONFLICT (center, point) DO UPDATE SET hours = EXCLUDED.hours",
            center, point, json.dumps(hours.to_json()))


@dataclass
class CalendarFile:
    """What the operator's file says: official days, local entries, and hours per center or point."""
    official: dict[date, bool] = field(default_factory=dict)
    entries: list[LocalEntry] = field(default_factory=list)
    hours: list[tuple[str, str | None, Hours]] = field(default_factory=list)


def _day(where: str, raw: Any) -> date:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise HoursError(where, f"{raw!r} is not a date YYYY-MM-DD") from None


def parse_calendar_file(text: str) -> CalendarFile:
    """The TOML file's three parts (see docs/calendar.md); any mistake names where it is."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HoursError("file", str(exc)) from None
    unknown = set(doc) - {"official", "closed", "hours"}
    if unknown:
        raise HoursError(sorted(unknown)[0], "unknown section; use [official], [[closed]], [[hours]]")
    out = CalendarFile()
    official = doc.get("official", {})
    for key, working in (("holidays", False), ("workdays", True)):
        for raw in official.get(key, []):
            out.official[_day(f"official.{key}", raw)] = working
    for n, item in enumerate(doc.get("closed", []), 1):
        where = f"closed[{n}]"
        first = _day(f"{where}.from", item.get("from"))
        last = _day(f"{where}.to", item.get("to", first))
        if last < first:
            raise HoursError(f"{where}.to", "ends before it begins")
        out.entries.append(LocalEntry(first, last, parse_span(f"{where}.hours", item.get("hours")),
                                      item.get("center"), item.get("point"), str(item.get("reason", ""))))
    for n, item in enumerate(doc.get("hours", []), 1):
        spec = {k: v for k, v in item.items() if k not in ("center", "point")}
        if "center" not in item:
            raise HoursError(f"hours[{n}].center", "required")
        try:
            out.hours.append((item["center"], item.get("point"), Hours.parse(spec)))
        except HoursError as exc:
            raise HoursError(f"hours[{n}].{exc.field}", exc.message) from None
    return out


async def store_calendar_file(conn: asyncpg.Connection, path: Path) -> dict[str, int]:
    """The file in place of the last one, in one transaction: its entries and official days replace
    the stored ones; its hours are set (hours not named keep theirs)."""
    cal = parse_calendar_file(path.read_text(encoding="utf-8"))
    known = {r["code"] for r in await conn.fetch("SELECT code FROM centers")}
    named = [("closed", e.center) for e in cal.entries if e.center is not None] + [("hours", c) for c, _, _ in cal.hours]
    for where, center in named:
        if center not in known:
            raise HoursError(f"{where}.center", f"unknown center {center!r}")
    async with conn.transaction():
        await conn.execute("DELETE FROM calendar_entries")
        await conn.execute("DELETE FROM calendar_official")
        await conn.executemany(
            "INSERT INTO calendar_entries (line, center, point, first_day, last_day, opens, closes, reason)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [(i, e.center, e.point, e.first, e.last, e.span[0] if e.span else None, e.span[1] if e.span else None,
              e.reason) for i, e in enumerate(cal.entries)])
        await conn.executemany("INSERT INTO calendar_official (day, working) VALUES ($1, $2)",
                               sorted(cal.official.items()))
        for center, point, hours in cal.hours:
            await store_hours(conn, center, point, hours)  # type: ignore[arg-type]
    return {"official": len(cal.official), "closed": len(cal.entries), "hours": len(cal.hours)}


async def open_all_hours(conn: asyncpg.Connection, centers: list[str] | None = None) -> None:
    """Centers (all, or those named) open around the clock: the tests' template and the benchmarks,
    which issue tickets at whatever hour they run, and ``queue-server demo --open-all-hours``."""
    await conn.execute("UPDATE centers SET hours = $1::jsonb WHERE $2::text[] IS NULL OR code = ANY($2::text[])",
                       json.dumps({"always_open": True}), centers)
