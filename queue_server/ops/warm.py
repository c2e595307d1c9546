"""Reading what happened today before going live: the center's stream back to local midnight (and
PostgreSQL's ``events`` for whatever the stream no longer holds — trimmed, or lost with a Redis that
lost its data), the open rectification cases, and the live state the snapshot script reads."""
from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis

from ..clock import from_ms
from ..engine.keys import Keys

PAGE = 1000
# Today's events of a center from the record. Bounded on both sides, though nothing is recorded after
# today: the record is partitioned by `at`, and an open range would also read every month made ahead.
RECORDED_SINCE = ("SELECT stream_id, data FROM events WHERE center = $1 AND at >= $2 AND at < $2 + interval '2 days'"
                  " ORDER BY stream_ms, stream_seq")
Event = tuple[str, dict[str, Any]]


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


async def today_events(redis: Redis, pool: asyncpg.Pool, keys: Keys, center: str, day_start_ms: int
                       ) -> tuple[list[Event], str | None]:
    """The center's events at or after ``day_start_ms``, oldest first, and the stream id they end at."""
    stream: list[Event] = []
    tail: str | None = None
    covered = False
    end = "+"
    while not covered:
        page = await redis.xrevrange(keys.events(center), end, "-", count=PAGE)
        for entry_id, fields in page:
            sid = _text(entry_id)
            tail = tail or sid
            raw = fields.get(b"data")
            data = orjson.loads(raw) if raw is not None else {}
            if int(data.get("at", 0)) < day_start_ms:
                covered = True
                break
            stream.append((sid, data))
        if len(page) < PAGE:
            break
        end = "(" + _text(page[-1][0])
    stream.reverse()
    if covered:
        return stream, tail
    seen = {sid for sid, _ in stream}
    rows = await pool.fetch(RECORDED_SINCE, center, from_ms(day_start_ms))
    older = [(r["stream_id"], orjson.loads(r["data"])) for r in rows if r["stream_id"] not in seen]
    return older + stream, tail


async def open_cases(pool: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    """Open rectification cases per center (none while the evaluation's tables are absent)."""
    if not await pool.fetchval("SELECT to_regclass('rectifications') IS NOT NULL"):
        return {}
    rows = await pool.fetch("SELECT id, center, state, escalated, contacted_at, verified_at, rectified_at"
                            " FROM rectifications WHERE state NOT IN ('closed', 'upheld')")
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["center"], []).append(dict(r))
    return out


async def open_packages(pool: asyncpg.Pool, center: str) -> list[dict[str, Any]]:
    """The center's packages of originals not yet returned, as their events show them (materials/)."""
    rows = await pool.fetch("SELECT id, state, (extract(epoch FROM return_due_at) * 1000)::bigint AS return_due_at"
                            " FROM packages WHERE center = $1 AND state <> 'returned'", center)
    return [dict(r) for r in rows]


async def open_door_cases(pool: asyncpg.Pool, center: str) -> list[dict[str, Any]]:
    """The center's open door-to-door cases with the matters whose approval is overdue (door/), as their
    events show them."""
    rows = await pool.fetch(
        "SELECT c.id, c.stage, coalesce(array_agg(m.matter) FILTER (WHERE m.overdue_reminded_at IS NOT NULL"
        " AND m.approval IN ('submitted', 'in_review')), '{}') AS overdue FROM door_cases c"
        " LEFT JOIN door_case_matters m ON m.case_id = c.id"
        " WHERE c.center = $1 AND c.stage IN ('discovered', 'approved', 'scheduled', 'tracking') GROUP BY c.id", center)
    return [{"id": r["id"], "stage": r["stage"], "overdue": list(r["overdue"])} for r in rows]
