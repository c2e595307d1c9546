"""Ticket export as CSV, streamed from a server-side cursor so a year of data never sits in memory.
UTF-8 with BOM (the caller opens the file so, or ``csv_chunks`` adds it) for Excel; phone numbers masked."""
from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any, TextIO

import asyncpg

from ..domain.tickets import mask_phone

COLUMNS = ("id", "center", "day", "number", "queue", "matter", "channel", "priority", "status", "window_code",
           "recalls", "issued_at", "called_at", "started_at", "finished_at", "ended_at", "wait_s", "handling_s", "phone")
BOM = "\ufeff"


async def ticket_rows(conn: asyncpg.Connection, since: date, until: date, center: str | None,
                      prefetch: int = 1000) -> AsyncIterator[list[Any]]:
    """Each ticket of the days given as a row of COLUMNS, phone masked; needs an open transaction."""
    query = (
        "SELECT id, center, day, number, queue, matter, channel, priority, status, window_code, recalls,"
        " issued_at, called_at, started_at, finished_at, ended_at,"
        " extract(epoch FROM called_at - issued_at)::int AS wait_s,"
        " extract(epoch FROM finished_at - started_at)::int AS handling_s, phone"
        " FROM tickets WHERE day BETWEEN $1 AND $2 AND ($3::text IS NULL OR center = $3) ORDER BY day, center, issued_at")
    async for r in conn.cursor(query, since, until, center, prefetch=prefetch):
        yield [*(r[c] if r[c] is not None else "" for c in COLUMNS[:-1]), mask_phone(r["phone"]) or ""]


async def csv_chunks(header: Sequence[str], rows: AsyncIterator[Sequence[Any]], bom: bool = True,
                     chunk_chars: int = 64 * 1024) -> AsyncIterator[str]:
    """CSV text in chunks of about ``chunk_chars``: the BOM and header first, then the rows as they come."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    if bom:
        buf.write(BOM)
    writer.writerow(header)
    async for row in rows:
        writer.writerow(row)
        if buf.tell() >= chunk_chars:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue()


async def export_tickets(database_url: str, since: str, until: str, center: str | None, out: TextIO) -> int:
    conn = await asyncpg.connect(database_url)
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    n = 0
    try:
        async with conn.transaction():
            async for row in ticket_rows(conn, date.fromisoformat(since), date.fromisoformat(until), center):
                writer.writerow(row)
                n += 1
    finally:
        await conn.close()
    return n
