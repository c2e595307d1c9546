"""CSV made for people (Excel), and the ticket export, streamed from a server-side cursor so a year
of data never sits in memory. UTF-8 with BOM (the caller opens the file so, or ``csv_chunks`` adds
it); phone numbers masked. Every CSV writer of the project writes its rows through ``excel_row``:
times as the wall clock of the center's timezone (what the district reads), and no cell that Excel
would run as a formula."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date, datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import asyncpg

from ..domain.network import format_hhmm
from ..config import Settings
from .personal import PersonalData, mask

COLUMNS = ("id", "center", "day", "number", "queue", "matter", "channel", "priority", "status", "window_code",
           "recalls", "issued_at", "called_at", "started_at", "finished_at", "ended_at", "wait_s", "handling_s", "phone")
TIME_COLUMNS = frozenset({"issued_at", "called_at", "started_at", "finished_at", "ended_at"})
BOM = "\ufeff"
LOCAL_TIME = "%Y-%m-%d %H:%M:%S"
FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
DEFAULT_TZ = "Asia/Shanghai"


def local_time(moment: datetime | None, tz: str) -> datetime | None:
    """A stored moment (UTC) as the center's wall clock."""
    return moment.astimezone(ZoneInfo(tz)) if moment is not None else None


def excel_cell(value: Any) -> Any:
    """One value as a cell: empty for None; a moment as its own wall clock without offset (convert it
    with ``local_time`` first: a column kept in UTC says so in its name, ``..._utc``); a text that
    starts like a formula (``=``, ``+``, ``-``, ``@``, tab, CR) prefixed with ``'`` so Excel shows it
    instead of running it — residents' comments and imported names end up in these files."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(LOCAL_TIME)
    if isinstance(value, str) and value.startswith(FORMULA_LEAD):
        return "'" + value
    return value


def excel_row(values: Iterable[Any]) -> list[Any]:
    return [excel_cell(v) for v in values]


async def ticket_rows(conn: asyncpg.Connection, since: date, until: date, center: str | None,
                      personal: PersonalData, prefetch: int = 1000) -> AsyncIterator[list[Any]]:
    """Each ticket of the days given as a row of COLUMNS, times in its center's timezone, phone
    opened only to be masked; needs an open transaction."""
    query = (
        "SELECT t.id, t.center, t.day, t.number, t.queue, t.matter, t.channel, t.priority, t.status, t.window_code,"
        " t.recalls, t.issued_at, t.called_at, t.started_at, t.finished_at, t.ended_at,"
        " extract(epoch FROM t.called_at - t.issued_at)::int AS wait_s,"
        " extract(epoch FROM t.finished_at - t.started_at)::int AS handling_s, t.phone_sealed, c.timezone"
        " FROM tickets t LEFT JOIN centers c ON c.code = t.center"
        " WHERE t.day BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.center = $3) ORDER BY t.day, t.center, t.issued_at")
    async for r in conn.cursor(query, since, until, center, prefetch=prefetch):
        tz = r["timezone"] or DEFAULT_TZ
        yield [*(local_time(r[c], tz) if c in TIME_COLUMNS else r[c] for c in COLUMNS[:-1]),
               mask(personal.open(r["phone_sealed"]))]


async def csv_chunks(header: Sequence[str], rows: AsyncIterator[Sequence[Any]], bom: bool = True,
                     chunk_chars: int = 64 * 1024) -> AsyncIterator[str]:
    """CSV text in chunks of about ``chunk_chars``: the BOM and header first, then the rows as they come."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    if bom:
        buf.write(BOM)
    writer.writerow(header)
    async for row in rows:
        writer.writerow(excel_row(row))
        if buf.tell() >= chunk_chars:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue()


async def export_tickets(database_url: str, since: str, until: str, center: str | None, out: TextIO,
                         personal: PersonalData | None = None) -> int:
    """The tickets of the days given as CSV to ``out``; ``personal``: default, the configured key."""
    personal = personal or PersonalData.from_settings(Settings.from_env())
    conn = await asyncpg.connect(database_url)
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    n = 0
    try:
        async with conn.transaction():
            async for row in ticket_rows(conn, date.fromisoformat(since), date.fromisoformat(until), center, personal):
                writer.writerow(excel_row(row))
                n += 1
    finally:
        await conn.close()
    return n


POINT_COLUMNS = ("center", "code", "name_zh", "name_en", "kind", "address", "lat", "lng", "status")


async def export_points(database_url: str, center: str | None, out: TextIO, fmt: str) -> int:
    """Service points as CSV (POINT_COLUMNS; what ``import`` reads back) or as the catalog JSON's
    ``service_points`` with the ``remote_assignments`` that serve them."""
    conn = await asyncpg.connect(database_url)
    try:
        points = await conn.fetch(f"SELECT {', '.join(POINT_COLUMNS)} FROM service_points"
                                  " WHERE $1::text IS NULL OR center = $1 ORDER BY center, code", center)
        assigned = await conn.fetch(
            "SELECT center, window_code, point, starts_min, ends_min, weekdays FROM remote_assignments"
            " WHERE $1::text IS NULL OR center = $1 ORDER BY center, window_code, starts_min, point", center)
    finally:
        await conn.close()
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(POINT_COLUMNS)
        for r in points:
            writer.writerow(excel_row(r[c] for c in POINT_COLUMNS))
    else:
        out.write(json.dumps({
            "service_points": [dict(r) for r in points],
            "remote_assignments": [{"center": r["center"], "window": r["window_code"], "point": r["point"],
                                    "starts": format_hhmm(r["starts_min"]), "ends": format_hhmm(r["ends_min"]),
                                    "weekdays": list(r["weekdays"])} for r in assigned],
        }, ensure_ascii=False, indent=1) + "\n")
    return len(points)
