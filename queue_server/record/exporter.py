"""Ticket export as CSV, streamed from a server-side cursor so a year of data never sits in memory.
UTF-8 with BOM (the caller opens the file so) for Excel; phone numbers masked."""
from __future__ import annotations

import csv
from datetime import date
from typing import TextIO

import asyncpg

from ..domain.tickets import mask_phone

COLUMNS = ("id", "center", "day", "number", "queue", "matter", "channel", "priority", "status", "window_code",
           "recalls", "issued_at", "called_at", "started_at", "finished_at", "ended_at", "wait_s", "handling_s", "phone")


async def export_tickets(database_url: str, since: str, until: str, center: str | None, out: TextIO) -> int:
    conn = await asyncpg.connect(database_url)
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    n = 0
    try:
        async with conn.transaction():
            query = (
                "SELECT id, center, day, number, queue, matter, channel, priority, status, window_code, recalls,"
                " issued_at, called_at, started_at, finished_at, ended_at,"
                " extract(epoch FROM called_at - issued_at)::int AS wait_s,"
                " extract(epoch FROM finished_at - started_at)::int AS handling_s, phone"
                " FROM tickets WHERE day BETWEEN $1 AND $2 AND ($3::text IS NULL OR center = $3) ORDER BY day, center, issued_at")
            async for r in conn.cursor(query, date.fromisoformat(since), date.fromisoformat(until), center, prefetch=1000):
                writer.writerow([*(r[c] if r[c] is not None else "" for c in COLUMNS[:-1]), mask_phone(r["phone"]) or ""])
                n += 1
    finally:
        await conn.close()
    return n
