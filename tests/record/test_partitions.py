"""The record by month (migration 080, record/partitions.py): an existing database upgrades in place
with every row kept, in its month; a row whose month has no partition is kept in the DEFAULT one and
moved to its month once that exists; instances creating the same month at once do not fail; the
retention detaches (never drops) old months; the maintainer outlives PostgreSQL refusing it; the
month report's and the warm-up's queries read only their months' partitions, through indexes; and
(migration 081) a ticket's row can be updated in place through its visit."""
from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import asyncpg
import orjson
import pytest

from loadtests.year_data import load_year
from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.ops import reports
from queue_server.ops.warm import RECORDED_SINCE
from queue_server.record.migrate import migrate
from queue_server.record.partitions import PartitionMaintainer, create_months, detach_before, partitions, settle_default
from queue_server.record.persister import _TICKETS, record
from queue_server.record.personal import DEMO_KEY, PersonalData, parse_key
from queue_server.supervisor import Backoff, Supervisor
from tests.support import ROOT, Services, with_database

C = "jingansi"
SHANGHAI = timezone(timedelta(hours=8))
INDEXED = {"Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(database_url)
    yield c
    await c.close()


async def _ticket(conn: asyncpg.Connection, day: date, n: int = 1, phone: str | None = None) -> str:
    tid = f"{C}-{day:%Y%m%d}-A{n:03d}"
    at = datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI)
    cols = "id, center, day, number, queue, class, matter, channel, priority, status, issued_at, sort_at, version, data"
    if phone is not None:   # the schema before 042 kept it in clear
        cols += ", phone"
    await conn.execute(
        f"INSERT INTO tickets ({cols}) VALUES ($1, $2, $3, $4, 'q', 'n', 'hrss-001', 'kiosk', 'normal', 'finished',"
        f" $5, $5, 3, $6::jsonb{', $7' if phone is not None else ''})",
        tid, C, day, f"A{n:03d}", at, orjson.dumps({"id": tid, "center": C}).decode(), *([phone] if phone else []))
    return tid


async def _event(conn: asyncpg.Connection, at: datetime, tid: str | None = None) -> str:
    ms = int(at.timestamp() * 1000)
    sid = f"{ms}-0"
    await conn.execute("INSERT INTO events (center, stream_id, stream_ms, stream_seq, type, at, ticket_id, data)"
                       " VALUES ($1, $2, $3, 0, 'ticket.issued', $4, $5, '{}'::jsonb)", C, sid, ms, at, tid)
    return sid


async def _where(conn: asyncpg.Connection, table: str, key: str, value: Any) -> str | None:
    return await conn.fetchval(f"SELECT tableoid::regclass::text FROM {table} WHERE {key} = $1", value)


async def test_an_existing_record_upgrades_in_place_each_row_in_its_month(services: Services) -> None:
    name = f"qs_{services.run_id}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(services.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(services.admin_dsn, name))
    try:
        await migrate(conn, PersonalData(parse_key(DEMO_KEY)), until=71)
        assert await conn.fetchval("SELECT relkind FROM pg_class WHERE relname = 'tickets'") == b"r"
        days = [date(2026, 9, 15), date(2026, 10, 31), date(2026, 11, 1), date(2030, 1, 2)]
        tids = [await _ticket(conn, d, i + 1) for i, d in enumerate(days)]
        # 16:30 UTC on 31 October is half past midnight on 1 November in Shanghai: November's event
        late = datetime(2026, 10, 31, 16, 30, tzinfo=timezone.utc)
        sids = [await _event(conn, datetime(2026, 9, 15, 9, tzinfo=SHANGHAI), tids[0]), await _event(conn, late, tids[1])]
        before = await conn.fetch("SELECT * FROM tickets ORDER BY id")
        events_before = await conn.fetch("SELECT * FROM events ORDER BY stream_id")

        assert (await migrate(conn))[:2] == ["080_record_by_month.sql", "081_tickets_updated_in_place.sql"]
        assert await conn.fetch("SELECT * FROM tickets ORDER BY id") == before
        assert await conn.fetch("SELECT * FROM events ORDER BY stream_id") == events_before
        assert [await _where(conn, "tickets", "id", t) for t in tids] == [
            "tickets_y2026m09", "tickets_y2026m10", "tickets_y2026m11", "tickets_y2030m01"]
        assert [await _where(conn, "events", "stream_id", s) for s in sids] == ["events_y2026m09", "events_y2026m11"]
        assert await conn.fetchval("SELECT count(*) FROM tickets_default") == 0
        assert await conn.fetchval("SELECT to_regclass('tickets_unpartitioned')") is None
        # the persister's upsert on the new key still moves a row forward only
        await conn.execute("INSERT INTO tickets SELECT * FROM tickets WHERE id = $1"
                           " ON CONFLICT (id, day) DO UPDATE SET version = 9 WHERE tickets.version < 9", tids[0])
        assert await conn.fetchval("SELECT version FROM tickets WHERE id = $1", tids[0]) == 9
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_row_of_a_month_without_partition_is_kept_then_moved_to_its_month(conn: asyncpg.Connection) -> None:
    future, past = date(2099, 3, 5), date(1999, 12, 31)
    tids = [await _ticket(conn, future), await _ticket(conn, past)]
    sid = await _event(conn, datetime(2099, 3, 5, 9, tzinfo=SHANGHAI), tids[0])
    assert [await _where(conn, "tickets", "id", t) for t in tids] == ["tickets_default"] * 2
    assert await _where(conn, "events", "stream_id", sid) == "events_default"

    # a retention keeping months from 2000 on leaves 1999's row where it is, in the record still
    assert await settle_default(conn, since=date(2000, 1, 1)) == ["tickets_y2099m03", "events_y2099m03"]
    assert [await _where(conn, "tickets", "id", t) for t in tids] == ["tickets_y2099m03", "tickets_default"]
    assert await _where(conn, "events", "stream_id", sid) == "events_y2099m03"
    assert await settle_default(conn) == ["tickets_y1999m12"]
    assert await conn.fetchval("SELECT count(*) FROM tickets_default") == 0
    assert await settle_default(conn) == []


async def test_a_tickets_row_is_updated_in_place_through_its_visit(conn: asyncpg.Connection) -> None:
    """Migration 081: no index of tickets reads a column the persister's upsert changes, and every
    month's pages (and the DEFAULT's) keep room for the versions that follow, so the updates can be HOT."""
    changed = set(re.findall(r"(\w+) = EXCLUDED", _TICKETS.split("DO UPDATE SET", 1)[1]))
    assert {"status", "window_code", "version", "data"} <= changed
    assert await create_months(conn, [date(2099, 4, 1)]) == ["tickets_y2099m04", "events_y2099m04"]
    for index in await conn.fetch("SELECT indexrelid FROM pg_index WHERE indrelid = 'tickets'::regclass"):
        read = await conn.fetch("SELECT a.attname FROM pg_attribute a JOIN pg_index i ON a.attrelid = i.indrelid"
                                " WHERE i.indexrelid = $1 AND (a.attnum = ANY(i.indkey)"
                                " OR pg_get_expr(i.indpred, i.indrelid) ~ ('\\m' || a.attname || '\\M'))",
                                index["indexrelid"])
        assert not {r["attname"] for r in read} & changed
    options = {r["relname"]: r["reloptions"] for r in await conn.fetch(
        "SELECT c.relname, c.reloptions FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = ANY(ARRAY['tickets'::regclass, 'events'::regclass])")}
    assert options["tickets_y2099m04"] == options["tickets_default"] == ["fillfactor=70"]
    assert options["events_y2099m04"] is None


async def test_instances_creating_the_same_months_at_once_do_not_fail(database_url: str) -> None:
    months = [date(2031, m, 1) for m in range(1, 7)]
    conns = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        await _ticket(conns[0], date(2031, 2, 10))     # waiting in the default partition, moved exactly once
        created = await asyncio.gather(*(create_months(c, months) for c in conns))
        names = [n for found in created for n in found]
        assert sorted(names) == sorted({n for n in names}) and len(names) == 2 * len(months)
        assert await conns[0].fetchval("SELECT count(*) FROM tickets WHERE day = '2031-02-10'") == 1
        assert await _where(conns[0], "tickets", "day", date(2031, 2, 10)) == "tickets_y2031m02"
    finally:
        for c in conns:
            await c.close()


async def test_a_write_routed_to_the_default_while_its_month_is_attached_is_written_again(database_url: str) -> None:
    """The persister's (and the record mode's) write that PostgreSQL routed to the DEFAULT partition
    just before the maintainer attached that month is refused against the default's new bounds: the
    write is made again and lands in its month, the request behind it never sees the refusal."""
    at = datetime(2032, 4, 2, 9, tzinfo=SHANGHAI)
    ms = int(at.timestamp() * 1000)
    entry = ("jingansi", f"{ms}-0", {b"type": b"window.opened", b"data": orjson.dumps(
        {"type": "window.opened", "center": C, "at": ms, "window": {"id": "w1", "state": "open"}})})
    maintainer = await asyncpg.connect(database_url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        async with maintainer.transaction():
            assert await maintainer.fetchval("SELECT record_month_partition('events', $1)", date(2032, 4, 1))
            write = asyncio.create_task(record(pool, [entry], PersonalData(parse_key(DEMO_KEY))))
            await asyncio.sleep(0.5)      # routed to the default, waiting for the lock the attach holds
            assert not write.done()
        await asyncio.wait_for(write, 10)
        assert await _where(maintainer, "events", "stream_id", entry[1]) == "events_y2032m04"
    finally:
        await pool.close()
        await maintainer.close()


async def test_the_retention_detaches_old_months_and_keeps_them_as_tables(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            old = [await _ticket(conn, date(2026, m, 10), m) for m in (5, 6, 7)]
            await create_months(conn, [date(2026, m, 1) for m in (5, 6, 7)])
        keeper = PartitionMaintainer(pool, FixedClock(datetime(2026, 12, 15, 10, tzinfo=SHANGHAI)), ahead=2, retention_months=6)
        done = await keeper.once()
        assert {"tickets_y2027m02", "events_y2027m02"} <= set(done["created"])   # (and this month, the next, if new)
        assert sorted(done["detached"]) == ["events_y2026m05", "tickets_y2026m05"]   # before June: 6 months kept
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM tickets WHERE id = ANY($1)", old) == 2
            assert await conn.fetchval("SELECT id FROM tickets_y2026m05") == old[0]   # detached, not dropped
            listed = {p.name: p for p in await partitions(conn)}
            assert not listed["tickets_y2026m05"].attached and listed["tickets_y2026m06"].attached
            assert listed["tickets_default"].month is None
            assert await detach_before(conn, date(2026, 6, 1)) == []
        assert await keeper.once() == {"created": [], "detached": []}
    finally:
        await pool.close()


async def test_the_maintainer_outlives_postgresql_refusing_it(services: Services, database_url: str) -> None:
    admin = await asyncpg.connect(services.admin_dsn)
    pool = await asyncpg.create_pool(database_url, min_size=0, max_size=2)
    name = await pool.fetchval("SELECT current_database()")   # the embedded server's URL names its socket last
    work = Supervisor(backoff=Backoff(first_s=0.05, cap_s=0.2), settle_s=60)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        clock = FixedClock(datetime(2032, 4, 2, 10, tzinfo=SHANGHAI))
        work.run("record partitions", lambda: PartitionMaintainer(pool, clock, ahead=1).run(work.stop))
        while work.tasks["record partitions"].failures < 3:
            await asyncio.sleep(0.05)
        assert "record partitions" in work.down()
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        for _ in range(200):
            if await pool.fetchval("SELECT to_regclass('events_y2032m05') IS NOT NULL"):
                break
            await asyncio.sleep(0.05)
        assert await pool.fetchval("SELECT to_regclass('tickets_y2032m04') IS NOT NULL")
        assert await pool.fetchval("SELECT to_regclass('events_y2032m05') IS NOT NULL")
    finally:
        await work.close()
        await pool.close()
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()


def _scans(plan: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(node type, relation, whether through an index) of every scan of a table in a plan."""
    found = []
    if "Relation Name" in plan:
        found.append((plan["Node Type"], plan["Relation Name"], plan["Node Type"] in INDEXED))
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def _plan(conn: asyncpg.Connection, sql: str, *args: Any) -> list[tuple[str, str, bool]]:
    return _scans(orjson.loads(await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args))[0]["Plan"])


async def test_the_month_report_and_the_warm_up_read_their_months_through_indexes(conn: asyncpg.Connection) -> None:
    centers = [f"c{i:02d}" for i in range(14)]
    await load_year(conn, centers, date(2026, 8, 1), 92, per_day=8)      # August to October: three months
    october = reports.ReportQuery(date(2026, 10, 1), date(2026, 10, 31), by=("staff",), period="month", center="c03")
    scans = await _plan(conn, reports._sql(october, with_reviews=False), *reports._args(october))
    tables = {rel for _, rel, _ in scans}
    # the month's tickets, and its events up to two days after (a ticket may be called after midnight)
    assert tables == {"tickets_y2026m10", "events_y2026m10", "events_y2026m11"}, scans
    assert all(index for _, rel, index in scans if rel in ("tickets_y2026m10", "events_y2026m10")), scans

    district = reports.ReportQuery(date(2026, 9, 1), date(2026, 9, 30), by=("center",), period="month")
    scans = await _plan(conn, reports._sql(district, with_reviews=False), *reports._args(district))
    assert {rel for _, rel, _ in scans} == {"tickets_y2026m09", "events_y2026m09", "events_y2026m10"}, scans
    # the transfers of the month come from their partial index, not from every event of the month
    assert all(indexed for _, rel, indexed in scans if rel == "events_y2026m09"), scans

    since = datetime(2026, 10, 20, tzinfo=SHANGHAI)
    scans = await _plan(conn, RECORDED_SINCE, "c03", since)
    assert {rel for _, rel, _ in scans} == {"events_y2026m10"}, scans
    assert all(indexed for _, _, indexed in scans), scans
    # and a look-up of a ticket by id with its day reads one month
    scans = await _plan(conn, "SELECT data FROM tickets WHERE id = $1 AND day = $2", "c03-20261005-A001", date(2026, 10, 5))
    assert [(rel, bool(i)) for _, rel, i in scans] == [("tickets_y2026m10", True)], scans


async def test_the_cli_lists_the_months_and_applies_the_retention(services: Services, database_url: str) -> None:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool, pool.acquire() as conn:
        await _ticket(conn, date(2020, 1, 6))
        await settle_default(conn)
    env = {**os.environ, "REDIS_URL": services.redis_url, "DATABASE_URL": database_url,
           "QUEUE_RECORD_RETENTION_MONTHS": "24"}
    run = subprocess.run([sys.executable, "-m", "queue_server", "partitions", "--apply"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "detached: tickets_y2020m01" in run.stderr
    listed = {line.split()[1]: line.split()[3] for line in run.stdout.splitlines()[1:]}
    assert listed["tickets_y2020m01"] == "DETACHED" and listed["tickets_default"] == "attached"


def test_a_retention_shorter_than_the_phones_is_refused() -> None:
    with pytest.raises(ValueError, match="QUEUE_RECORD_RETENTION_MONTHS"):
        Settings(record_retention_months=1, phone_retention_days=45)
    assert Settings(record_retention_months=2, phone_retention_days=45).record_retention_months == 2
