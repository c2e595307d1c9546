"""Tickets nobody rated within the configured days count as unrated; when a default level is
configured it is applied as a review marked ``is_default`` (channel ``default``), never mistaken
for a resident's rating."""
from __future__ import annotations

from datetime import timedelta

import asyncpg

from queue_server.clock import from_ms

from .config import EvalConfig


async def mark_unrated(pool: asyncpg.Pool, cfg: EvalConfig, now_ms: int, batch: int = 1000) -> int:
    now = from_ms(now_ms)
    async with pool.acquire() as conn, conn.transaction():
        marked = await conn.fetch(
            "WITH due AS (SELECT s.ticket_id FROM eval_served s WHERE s.unrated_at IS NULL AND s.finished_at < $1"
            "   AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.ticket_id = s.ticket_id AND r.round = 1)"
            "   ORDER BY s.finished_at LIMIT $3 FOR UPDATE SKIP LOCKED)"
            " UPDATE eval_served s SET unrated_at = $2 FROM due WHERE s.ticket_id = due.ticket_id RETURNING s.ticket_id",
            now - timedelta(days=cfg.unrated_days), now, batch)
        ids = [r["ticket_id"] for r in marked]
        if ids:
            await conn.execute("UPDATE sms_messages SET state = 'skipped' WHERE ticket_id = ANY($1::text[]) AND state = 'queued'"
                               " AND kind IN ('prompt', 'reminder')",
                               ids)
        if ids and cfg.default_level is not None:
            await conn.executemany(
                "INSERT INTO reviews (ticket_id, round, level, channel, is_default, rated_at)"
                " VALUES ($1, 1, $2, 'default', true, $3) ON CONFLICT DO NOTHING",
                [(i, cfg.default_level, now) for i in ids])
    return len(ids)
