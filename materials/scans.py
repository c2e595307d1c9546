"""The record of scans in PostgreSQL: a row per blob (stored once) and a row per upload of a ticket's
item, reviewed once by a conditional UPDATE (pending -> accepted | rejected)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


COLUMNS = ("id, ticket_id, center, point, matter, item, sha256, size, media_type, uploaded_by, uploaded_at,"
           " state, reason, reviewed_by, reviewed_at")


def to_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def as_view(r: asyncpg.Record) -> dict[str, Any]:
    """A scan as the API and the events show it (times in epoch ms)."""
    return {"id": r["id"], "ticket_id": r["ticket_id"], "point": r["point"], "item": r["item"],
            "sha256": r["sha256"], "size": r["size"], "media_type": r["media_type"],
            "uploaded_by": r["uploaded_by"], "uploaded_at": to_ms(r["uploaded_at"]), "state": r["state"],
            "reason": r["reason"], "reviewed_by": r["reviewed_by"],
            "reviewed_at": to_ms(r["reviewed_at"]) if r["reviewed_at"] else None}


async def latest(conn: asyncpg.Connection, ticket_id: str, item: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM material_scans WHERE ticket_id = $1 AND item = $2"
                               " ORDER BY id DESC LIMIT 1", ticket_id, item)


async def add(conn: asyncpg.Connection, ticket: dict[str, Any], item: int, sha256: str, size: int, media_type: str,
              by: str, at: datetime) -> asyncpg.Record:
    """The blob's row (once per hash) and the scan's, in one transaction."""
    async with conn.transaction():
        await conn.execute("INSERT INTO material_blobs (sha256, size, media_type, stored_at) VALUES ($1, $2, $3, $4)"
                           " ON CONFLICT (sha256) DO NOTHING", sha256, size, media_type, at)
        return await conn.fetchrow(
            "INSERT INTO material_scans (ticket_id, center, point, matter, item, sha256, size, media_type,"
            f" uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}",
            ticket["id"], ticket["center"], ticket["service_point"], ticket["matter"], item, sha256, size,
            media_type, by, at)


async def one(conn: asyncpg.Connection | asyncpg.Pool, scan_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM material_scans WHERE id = $1", scan_id)


async def of_ticket(conn: asyncpg.Connection | asyncpg.Pool, ticket_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {COLUMNS} FROM material_scans WHERE ticket_id = $1 ORDER BY item, id", ticket_id)


async def review(conn: asyncpg.Connection | asyncpg.Pool, scan_id: int, decision: str, reason: str | None, by: str,
                 at: datetime) -> asyncpg.Record | None:
    """Only a pending scan is reviewed: two clerks deciding at once, one wins (None for the other)."""
    return await conn.fetchrow(
        "UPDATE material_scans SET state = $2, reason = $3, reviewed_by = $4, reviewed_at = $5"
        f" WHERE id = $1 AND state = 'pending' RETURNING {COLUMNS}", scan_id, decision, reason, by, at)
