"""A statement on a request's path, answered as soon as its row is in. asyncpg returns a connection
to its pool inside ``asyncio.shield``, a task of its own: the caller waits two more turns of the
event loop after the row has come, and at the half city's peak that wait (p90 9 ms, p99 27 ms)
was as long as the statement's own round trip. Here the connection goes back in the background;
it is back before the pool is closed, as asyncpg waits for every connection to be released."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

log = logging.getLogger("queue_server.record")

_releasing: set[asyncio.Task[None]] = set()   # the event loop keeps only weak references to tasks


async def fetchrow(db: asyncpg.Pool | asyncpg.Connection, query: str, *args: Any) -> asyncpg.Record | None:
    """``db.fetchrow``: on a pool, its connection released after the answer rather than before it."""
    if not isinstance(db, asyncpg.Pool):
        return await db.fetchrow(query, *args)
    conn = await db.acquire()
    try:
        return await conn.fetchrow(query, *args)
    finally:
        release = asyncio.ensure_future(db.release(conn))
        _releasing.add(release)
        release.add_done_callback(_released)


def _released(task: asyncio.Task[None]) -> None:
    _releasing.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("a pooled connection failed to go back to its pool: %r", task.exception())
