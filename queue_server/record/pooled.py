"""Statements on a request's path. ``fetchrow`` answers as soon as its row is in: asyncpg returns a
connection to its pool inside ``asyncio.shield``, a task of its own, so the caller waited two more
turns of the event loop after the row had come, and at the half city's peak that wait (p90 9 ms,
p99 27 ms) was as long as the statement's own round trip. Here the connection goes back in the
background; it is back before the pool is closed, as asyncpg waits for every connection to be
released. ``prepared_on_open`` names a rare statement whose first run on a connection would be
slow: ``prepare_on_open`` prepares each on every connection the pool opens."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

log = logging.getLogger("queue_server.record")

_releasing: set[asyncio.Task[None]] = set()   # the event loop keeps only weak references to tasks
_on_open: list[str] = []


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


def prepared_on_open(query: str) -> str:
    """``query``, registered to be prepared on each connection as its pool opens it. A PostgreSQL
    backend fills its catalog caches on its first statement over a table: an SMS reply's statement
    took 8–10 ms on a fresh connection and 0.7 ms after, and an API process opens up to 40 of them,
    so at the city's rate (a reply a second) most replies were their connection's first. For
    statements as rare as that; a frequent one is warm on every connection within moments."""
    _on_open.append(query)
    return query


async def prepare_on_open(conn: asyncpg.Connection) -> None:
    """The pool's ``init`` in a process answering requests: the registered statements prepared (and
    dropped: asyncpg caches only what it runs), leaving the backend's caches warm for them — some
    7 ms as the pool grows, instead of on each connection's first rare request."""
    for query in _on_open:
        await conn.prepare(query)
