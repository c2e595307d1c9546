"""Residents' phone numbers in PostgreSQL: kept only sealed (record/personal.py) and only for
``QUEUE_PHONE_RETENTION_DAYS`` — long enough for the rating SMS, the rectification that a bad rating
opens and its follow-up SMS; the sweep here forgets them after that."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

import asyncpg

from ..clock import Clock, from_ms
from .personal import PersonalData

log = logging.getLogger("queue_server.phones")


async def seal_staged_phones(conn: asyncpg.Connection, keys: Callable[[], PersonalData]) -> None:
    """Migration 042's Python step: seal the plaintext it staged, in its transaction (``keys`` is
    asked for only when there is something to seal: a new database needs no key)."""
    staged = await conn.fetchval("SELECT (SELECT count(*) FROM unsealed_ticket_phones) + (SELECT count(*) FROM"
                                 " unsealed_sms_numbers) + (SELECT count(*) FROM unsealed_optouts)")
    if not staged:
        return
    personal = keys()
    tickets = await conn.fetch("SELECT id, phone FROM unsealed_ticket_phones")
    await conn.executemany("UPDATE tickets SET phone_sealed = $2, phone_lookup = $3 WHERE id = $1",
                           [(r["id"], personal.seal(r["phone"]), personal.lookup(r["phone"])) for r in tickets])
    sms = await conn.fetch("SELECT id, to_number FROM unsealed_sms_numbers")
    await conn.executemany("UPDATE sms_messages SET to_sealed = $2, to_lookup = $3 WHERE id = $1",
                           [(r["id"], personal.seal(r["to_number"]), personal.lookup(r["to_number"])) for r in sms])
    optouts = await conn.fetch("SELECT number, keyword, opted_out_at FROM unsealed_optouts")
    await conn.executemany("INSERT INTO sms_optouts (number_lookup, number_sealed, keyword, opted_out_at)"
                           " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                           [(personal.lookup(r["number"]), personal.seal(r["number"]), r["keyword"], r["opted_out_at"])
                            for r in optouts])
    if tickets or sms or optouts:
        log.info("sealed %d ticket phones, %d SMS numbers, %d opt-outs", len(tickets), len(sms), len(optouts))


# Every stored phone or ID number: table, its key column and that column's type, sealed column,
# keyed-hash column (None: not looked up).
STORES: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("tickets", "id", "text", "phone_sealed", "phone_lookup"),
    ("sms_messages", "id", "bigint", "to_sealed", "to_lookup"),
    ("sms_optouts", "number_lookup", "bytea", "number_sealed", "number_lookup"),
    ("door_cases", "id", "bigint", "phone_sealed", "resident_key"),
    ("door_cases", "id", "bigint", "id_number_sealed", None),
)


async def rekey(pool: asyncpg.Pool, personal: PersonalData, batch: int = 1000) -> int:
    """After a key rotation: re-seal and re-hash every stored value still under an old key, in
    batches (each its own transaction, so the server keeps running); returns how many. Once it
    returns, the old keys can leave QUEUE_PERSONAL_DATA_OLD_KEYS."""
    done = 0
    for table, key, key_type, sealed, lookup in STORES:
        after: object = None
        while True:
            rows = await pool.fetch(f"SELECT {key} AS k, {sealed} AS s FROM {table} WHERE {sealed} IS NOT NULL"
                                    f" AND ($1::{key_type} IS NULL OR {key} > $1)"
                                    f" ORDER BY {key} LIMIT $2", after, batch)
            if not rows:
                break
            after = rows[-1]["k"]
            stale = [(r["k"], personal.open(r["s"])) for r in rows if not personal.is_current(r["s"])]
            if lookup is None:
                await pool.executemany(f"UPDATE {table} SET {sealed} = $2 WHERE {key} = $1",
                                       [(k, personal.seal(v)) for k, v in stale])
            else:
                await pool.executemany(f"UPDATE {table} SET {sealed} = $2, {lookup} = $3 WHERE {key} = $1",
                                       [(k, personal.seal(v), personal.lookup(v)) for k, v in stale])
            done += len(stale)
    return done


async def forget_expired(pool: asyncpg.Pool, now_ms: int, days: int) -> tuple[int, int]:
    """Forget the phones of tickets issued, and the numbers of SMS queued, more than ``days`` ago;
    returns how many of each. Opt-outs stay: they hold a keyed hash only, and must keep working."""
    cutoff = from_ms(now_ms) - timedelta(days=days)
    async with pool.acquire() as conn, conn.transaction():
        tickets = await conn.execute("UPDATE tickets SET phone_sealed = NULL, phone_lookup = NULL"
                                     " WHERE phone_sealed IS NOT NULL AND issued_at < $1", cutoff)
        sms = await conn.execute("UPDATE sms_messages SET to_sealed = NULL, to_lookup = NULL"
                                 " WHERE to_sealed IS NOT NULL AND created_at < $1", cutoff)
    return int(tickets.rsplit(" ", 1)[1]), int(sms.rsplit(" ", 1)[1])


async def retention(pool: asyncpg.Pool, clock: Clock, days: int, stop: asyncio.Event, every_s: float = 3600.0) -> None:
    """The supervised sweep: forget expired phones now and then every ``every_s``; any instance may
    run it (the updates are idempotent)."""
    while not stop.is_set():
        tickets, sms = await forget_expired(pool, clock.now_ms(), days)
        if tickets or sms:
            log.info("retention: forgot %d ticket phones and %d SMS numbers older than %d days", tickets, sms, days)
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except asyncio.TimeoutError:
            pass
