"""Residents' phones in PostgreSQL: migration 042 seals what earlier versions kept in clear (tickets,
the events' tickets, the SMS outbox, opt-outs) in one transaction, and the retention sweep forgets
phones past QUEUE_PHONE_RETENTION_DAYS on an injected clock, supervised in the app."""
from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import asyncpg
import orjson

from evaluation.sms.outbox import opted_out, suppress_number
from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.record.migrate import migrate
from queue_server.record.personal import DEMO_KEY, PersonalData, parse_key
from queue_server.record.phones import forget_expired, rekey, retention
from tests.evaluation.test_privacy import rows_holding
from tests.support import AUTH, Services, running_app, wait_recorded, with_database

C = "jingansi"
PHONE = "13957312468"
AT = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)
DAY_S = 86_400


async def test_migration_042_seals_what_was_kept_in_clear(services: Services) -> None:
    name = f"qs_{services.run_id}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(services.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(services.admin_dsn, name))
    personal = PersonalData(parse_key(DEMO_KEY))
    try:
        await migrate(conn, personal, until=41)
        ticket = {"id": f"{C}-20261130-A001", "center": C, "phone": PHONE, "status": "finished"}
        await conn.execute(
            "INSERT INTO tickets (id, center, day, number, queue, class, matter, channel, priority, phone, status,"
            " issued_at, sort_at, version, data) VALUES ($1, $2, '2026-11-30', 'A001', 'q', 'n', 'hrss-001', 'kiosk',"
            " 'normal', $3, 'finished', $4, $4, 3, $5::jsonb)", ticket["id"], C, PHONE, AT, orjson.dumps(ticket).decode())
        await conn.execute(
            "INSERT INTO events (center, stream_id, stream_ms, stream_seq, type, at, ticket_id, data)"
            " VALUES ($1, '1-1', 1, 1, 'ticket.issued', $2, $3, $4::jsonb)", C, AT, ticket["id"],
            orjson.dumps({"type": "ticket.issued", "ticket": ticket}).decode())
        await conn.execute("INSERT INTO sms_messages (ticket_id, kind, to_number, due_at) VALUES ($1, 'prompt', $2, $3)",
                           ticket["id"], "+86" + PHONE, AT)
        await conn.execute("INSERT INTO sms_optouts (number, keyword) VALUES ($1, 'STOP'), ('+8613900000001', 'TD')",
                           "+86" + PHONE)

        assert await migrate(conn, personal) == [n for n in await _names_after(conn, 41)]
        row = await conn.fetchrow("SELECT phone_sealed, phone_lookup, data FROM tickets")
        assert personal.open(row["phone_sealed"]) == PHONE and row["phone_lookup"] == personal.lookup(PHONE)
        assert "phone" not in orjson.loads(row["data"])
        assert "phone" not in orjson.loads(await conn.fetchval("SELECT data FROM events"))["ticket"]
        sms = await conn.fetchrow("SELECT to_sealed, to_lookup FROM sms_messages")
        assert personal.open(sms["to_sealed"]) == "+86" + PHONE and sms["to_lookup"] == personal.lookup(PHONE)
        assert {r["keyword"] for r in await conn.fetch("SELECT keyword FROM sms_optouts WHERE number_lookup = ANY($1)",
                                                       [personal.lookup(PHONE), personal.lookup("13900000001")])} == {"STOP", "TD"}
        assert await rows_holding(conn, PHONE[3:]) == [] and await rows_holding(conn, "00000001") == []
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _names_after(conn: asyncpg.Connection, version: int) -> list[str]:
    return [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations WHERE version > $1 ORDER BY version",
                                               version)]


async def test_phones_are_forgotten_after_the_retention_days(settings: Settings) -> None:
    clock = FixedClock(AT)
    settings = replace(settings, phone_retention_days=45)
    async with running_app(settings, clock) as (app, client):
        r = await client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001", "phone": PHONE}, headers=AUTH)
        assert r.status_code == 201, r.text
        tid = r.json()["id"]
        pool = app.state.pool
        await wait_recorded(pool, settings.redis_url, settings, C)   # type: ignore[arg-type]
        personal = app.state.personal
        await pool.execute("INSERT INTO sms_messages (ticket_id, kind, to_sealed, to_lookup, due_at)"
                           " VALUES ($1, 'prompt', $2, $3, $4)", tid, personal.seal(PHONE), personal.lookup(PHONE), AT)
        await pool.execute("UPDATE sms_messages SET created_at = $1", AT)
        assert await pool.fetchval("SELECT id FROM tickets WHERE phone_lookup = $1", personal.lookup("+86 139-5731-2468")) == tid

        now = clock.now_ms()
        assert await forget_expired(pool, now + 44 * DAY_S * 1000, 45) == (0, 0)
        # the supervised sweep of the app, with the clock moved past the retention
        clock.advance(46 * DAY_S)
        stop = asyncio.Event()
        sweep = asyncio.create_task(retention(pool, clock, 45, stop, every_s=0.05))

        async def forgotten() -> bool:
            return await pool.fetchval("SELECT phone_sealed IS NULL AND phone_lookup IS NULL FROM tickets WHERE id = $1", tid)
        for _ in range(100):
            if await forgotten():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await sweep
        assert await forgotten()
        assert await pool.fetchval("SELECT to_sealed IS NULL AND to_lookup IS NULL FROM sms_messages") is True
        assert "phone retention" in app.state.supervisor.tasks


async def test_a_rotated_key_finds_old_rows_and_rekey_moves_them_all(settings: Settings) -> None:
    old, new = parse_key(DEMO_KEY), os.urandom(32)
    async with running_app(settings, FixedClock(AT)) as (app, client):
        r = await client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001", "phone": PHONE}, headers=AUTH)
        tid = r.json()["id"]
        pool = app.state.pool
        await wait_recorded(pool, settings.redis_url, settings, C)   # type: ignore[arg-type]
        before = PersonalData(old)
        await suppress_number(pool, "+86" + PHONE, "STOP", before)
        rotated = PersonalData(new, [old])
        assert await opted_out(pool, rotated.lookups(PHONE))      # found under the old key meanwhile
        assert await rekey(pool, rotated) >= 2          # and the demo door-to-door cases
        assert await rekey(pool, rotated) == 0
        after = PersonalData(new)                                  # the old key retired
        assert await opted_out(pool, after.lookups(PHONE))
        row = await pool.fetchrow("SELECT phone_sealed, phone_lookup FROM tickets WHERE id = $1", tid)
        assert after.open(row["phone_sealed"]) == PHONE and row["phone_lookup"] == after.lookup(PHONE)
