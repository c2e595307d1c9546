"""The record by month (migration 080): ``tickets`` (by service day) and ``events`` (by ``at``) are
partitioned by Shanghai month, with a DEFAULT partition as the safety net for a row whose month has
no partition, so nothing acknowledged is ever refused by the record. The maintainer, supervised on
every instance, keeps this month and ``ahead`` more created, moves rows that landed in the DEFAULT
partition into their own month (so it stays empty, and creating a month stays cheap), and, with a
retention, DETACHes the months older than it. It never drops one: a detached month is a plain table
(``tickets_y2024m01``) the operator archives (pg_dump -t) and drops, since the record is the
district's only history of who was served and how. Every step is idempotent and serialised per table
in PostgreSQL (record_month_partition's lock), so any number of instances may run it together."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date

import asyncpg

from ..clock import Clock
from ..domain.numbering import service_day
from ..domain.record_months import add_months, month_start, partition_name
from .numbers import as_date

log = logging.getLogger("queue_server.record.partitions")

PARENTS = ("tickets", "events")
_MONTH_OF = {"tickets": "date_trunc('month', day)::date",
             "events": "date_trunc('month', at AT TIME ZONE 'Asia/Shanghai')::date"}
_LOCK = 7_315_080      # record_month_partition's, with hashtext(parent)
DETACH_LOCK_TIMEOUT = "5s"   # behind a long report, give up and try again on the next round


@dataclass(frozen=True)
class Partition:
    """One month of a partitioned table (or its DEFAULT partition: ``month`` None), attached or not.
    ``rows`` is PostgreSQL's estimate (from the last ANALYZE), exact counts of a year being too dear."""
    parent: str
    name: str
    month: date | None
    attached: bool
    rows: int
    bytes: int


async def create_months(conn: asyncpg.Connection, months: list[date]) -> list[str]:
    """Create the given months of both tables that do not exist yet; returns the names created."""
    created = []
    for parent in PARENTS:
        for month in months:
            if await conn.fetchval("SELECT record_month_partition($1, $2)", parent, month):
                created.append(partition_name(parent, month))
    return created


async def settle_default(conn: asyncpg.Connection, since: date | None = None) -> list[str]:
    """Give the rows in the DEFAULT partitions their month (from ``since`` on: older months are past
    the retention and stay where they are); returns the partitions created."""
    created = []
    for parent in PARENTS:
        months = await conn.fetch(f"SELECT DISTINCT {_MONTH_OF[parent]} AS m FROM {parent}_default")
        for m in sorted(r["m"] for r in months):
            if (since is None or m >= since) and await conn.fetchval("SELECT record_month_partition($1, $2)", parent, m):
                created.append(partition_name(parent, m))
    return created


async def partitions(conn: asyncpg.Connection) -> list[Partition]:
    """Every month table of the record, attached or detached, and the DEFAULT partitions, by table and month."""
    rows = await conn.fetch(
        "SELECT c.relname AS name, i.inhparent::regclass::text AS parent, greatest(c.reltuples, 0)::bigint AS rows,"
        " pg_total_relation_size(c.oid) AS bytes FROM pg_class c"
        " LEFT JOIN pg_inherits i ON i.inhrelid = c.oid"
        " WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
        " AND c.relname ~ '^(tickets|events)_(default|y[0-9]{4}m[0-9]{2})$'")
    out = []
    for r in rows:
        parent, _, tail = r["name"].partition("_")
        month = None if tail == "default" else date(int(tail[1:5]), int(tail[6:8]), 1)
        out.append(Partition(parent, r["name"], month, r["parent"] is not None, r["rows"], r["bytes"]))
    return sorted(out, key=lambda p: (PARENTS.index(p.parent), p.month or date.max))


async def detach_before(conn: asyncpg.Connection, before: date) -> list[str]:
    """DETACH every month older than ``before``; returns the names detached. Each in its own short
    transaction under a lock timeout: DETACH needs the table to itself for a moment (CONCURRENTLY is
    not allowed beside a DEFAULT partition), and must not queue the persister behind a long report."""
    detached = []
    for p in await partitions(conn):
        if not p.attached or p.month is None or p.month >= before:
            continue
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'")
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK, p.parent)
            still = await conn.fetchval("SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($1)", p.name)
            if still:
                await conn.execute(f"ALTER TABLE {p.parent} DETACH PARTITION {p.name}")
                detached.append(p.name)
    return detached


@dataclass
class PartitionMaintainer:
    """Keeps the record's months: run on every instance (supervised); a failure (PostgreSQL away)
    ends ``run`` for the supervisor to start again, while the server serves on (a row of a month not
    yet created waits in the DEFAULT partition)."""
    pool: asyncpg.Pool
    clock: Clock
    ahead: int = 2
    retention_months: int | None = None
    every_s: float = 6 * 3600.0

    def this_month(self) -> date:
        return month_start(as_date(service_day(self.clock.now_ms())))

    async def once(self) -> dict[str, list[str]]:
        """One round: create ahead, settle the DEFAULT partitions, detach what the retention lets go."""
        this = self.this_month()
        keep_from = add_months(this, -self.retention_months) if self.retention_months else None
        async with self.pool.acquire() as conn:
            created = await create_months(conn, [add_months(this, i) for i in range(self.ahead + 1)])
            created += await settle_default(conn, keep_from)
            detached = await detach_before(conn, keep_from) if keep_from else []
        if created or detached:
            log.info("record partitions: created %s, detached %s", created or "none", detached or "none")
        return {"created": created, "detached": detached}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.once()
            try:
                await asyncio.wait_for(stop.wait(), self.every_s)
            except asyncio.TimeoutError:
                pass
