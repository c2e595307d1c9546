"""The SMS outbox: prompts are queued in PostgreSQL when a ticket finishes and sent when due by any
instance. A sender claims due rows with ``FOR UPDATE SKIP LOCKED`` and a lease, so two instances
never send the same message; one that dies mid-send leaves a lease that expires and is retried.
Before each send: opted-out numbers are suppressed, rated tickets skipped, and a per-number hourly
limit (a Redis counter shared by all instances) defers the excess — except a resident's one-time code
(residents/), useless an hour later and limited per number and address where it is asked for; its text
is dropped once settled. Failures retry with backoff."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
from redis.asyncio import Redis

from queue_server.clock import Clock, from_ms
from queue_server.domain.catalog import Catalog
from queue_server.domain.numbering import day_of
from queue_server.engine.keys import Keys
from queue_server.record.json_rows import ROWS, at, rows
from queue_server.record.personal import PersonalData

from .. import links
from ..config import EvalConfig
from ..served import Served
from . import texts
from .twilio_client import UNSUBSCRIBED, SendError, TwilioSender

log = logging.getLogger("evaluation.sms")
HOUR_MS = 3_600_000
DOOR = "door"   # a door-to-door visit is served as CENTER-door-CASE (door/store.py)
CODE_KEY = "code:"   # the key of a notice that carries a resident's one-time code (residents/api.py)



async def opted_out(conn: asyncpg.Connection | asyncpg.Pool, lookups: list[bytes]) -> bool:
    """Whether the number with these keyed hashes (PersonalData.lookups) opted out."""
    return bool(await conn.fetchval("SELECT 1 FROM sms_optouts WHERE number_lookup = ANY($1)", lookups))


async def enqueue_prompts(conn: asyncpg.Connection, finished: list[tuple[Served, str]], cfg: EvalConfig,
                          personal: PersonalData) -> int:
    """Queue the rating prompt (and the reminder, if configured) for finished tickets and the phones
    they gave (sealed), except to opted-out numbers; idempotent. One statement for a whole batch: the
    consumer gets the morning's finishes by the hundred."""
    batch: list[tuple[str, str, bytes | None, bytes | None, int]] = []
    for served, phone in finished:
        number = texts.e164(phone)
        sealed, lookup = personal.seal(number), personal.lookup(number)
        batch.append((served.ticket_id, "prompt", sealed, lookup, served.finished_at_ms + cfg.sms_delay_s * 1000))
        if cfg.reminder_days > 0:
            batch.append((served.ticket_id, "reminder", sealed, lookup, served.finished_at_ms + cfg.reminder_days * 86_400_000))
    if not batch:
        return 0
    status = await conn.execute(
        "INSERT INTO sms_messages (ticket_id, kind, to_sealed, to_lookup, due_at)"
        f" SELECT e->>0, e->>1, decode(e->>2, 'hex'), decode(e->>3, 'hex'), {at(4)} FROM {ROWS}"
        " WHERE NOT EXISTS (SELECT 1 FROM sms_optouts o WHERE o.number_lookup = decode(e->>3, 'hex'))"
        " ON CONFLICT (ticket_id, kind) DO NOTHING", rows(batch))
    return int(status.rsplit(" ", 1)[1])


async def enqueue_followup(conn: asyncpg.Connection, ticket_id: str, now_ms: int, personal: PersonalData,
                           live_phone: Callable[[], Awaitable[str | None]] | None = None) -> bool:
    """Queue the follow-up prompt after a rectification, to the number the first prompt went to, else
    the ticket's phone: from its record, or from the live ticket when the record has not caught up."""
    phone = personal.open(await conn.fetchval("SELECT to_sealed FROM sms_messages WHERE ticket_id = $1"
                                              " AND to_sealed IS NOT NULL LIMIT 1", ticket_id))
    if phone is None:
        phone = personal.open(await conn.fetchval("SELECT phone_sealed FROM tickets WHERE id = $1 AND day = $2",
                                                  ticket_id, day_of(ticket_id)))
    if phone is None and live_phone is not None:
        phone = await live_phone()
    if not phone or await opted_out(conn, personal.lookups(phone)):
        return False
    sealed, lookup = personal.seal(texts.e164(phone)), personal.lookup(phone)
    await conn.execute("INSERT INTO sms_messages (ticket_id, kind, to_sealed, to_lookup, due_at)"
                       " VALUES ($1, 'followup', $2, $3, $4) ON CONFLICT (ticket_id, kind) DO NOTHING",
                       ticket_id, sealed, lookup, from_ms(now_ms))
    return True



async def enqueue_notice(conn: asyncpg.Connection, key: str, phone: str, body: str, due_ms: int,
                         personal: PersonalData) -> bool:
    """Queue a message whose text is known now (a door-to-door case's refusal, visit or approval
    news), once per ``key``, unless the number opted out. Replies to it start no rating."""
    if await opted_out(conn, personal.lookups(phone)):
        return False
    status = await conn.execute(
        "INSERT INTO sms_messages (ticket_id, kind, to_sealed, to_lookup, due_at, body, conversation)"
        " VALUES ($1, 'notice', $2, $3, $4, $5, 'done') ON CONFLICT (ticket_id, kind) DO NOTHING",
        key, personal.seal(texts.e164(phone)), personal.lookup(phone), from_ms(due_ms), body)
    return status.endswith(" 1")


async def suppress_number(conn: asyncpg.Connection | asyncpg.Pool, number: str, keyword: str,
                          personal: PersonalData) -> None:
    """Record an opt-out (sealed, found by keyed hash) and drop everything still queued for that number."""
    await conn.execute("INSERT INTO sms_optouts (number_lookup, number_sealed, keyword) SELECT $1, $2, $3"
                       " WHERE NOT EXISTS (SELECT 1 FROM sms_optouts WHERE number_lookup = ANY($4)) ON CONFLICT DO NOTHING",
                       personal.lookup(number), personal.seal(texts.e164(number)), keyword, personal.lookups(number))
    await conn.execute("UPDATE sms_messages SET state = 'suppressed' WHERE to_lookup = ANY($1)"
                       " AND state IN ('queued', 'sending')", personal.lookups(number))


class Outbox:
    def __init__(self, pool: asyncpg.Pool, redis: Redis, keys: Keys, cfg: EvalConfig, clock: Clock, catalog: Catalog,
                 public_base_url: str, sender: TwilioSender, personal: PersonalData) -> None:
        self.pool, self.redis, self.keys, self.cfg, self.clock = pool, redis, keys, cfg, clock
        self.catalog, self.base, self.sender = catalog, public_base_url, sender
        self.personal = personal
        self.sent = 0

    async def claim(self) -> list[asyncpg.Record]:
        now = from_ms(self.clock.now_ms())
        return await self.pool.fetch(
            "WITH due AS (SELECT id FROM sms_messages WHERE (state = 'queued' AND due_at <= $1)"
            "   OR (state = 'sending' AND lease_until < $1) ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
            " UPDATE sms_messages m SET state = 'sending', lease_until = $3, attempts = m.attempts + 1"
            " FROM due WHERE m.id = due.id"
            " RETURNING m.id, m.ticket_id, m.kind, m.to_sealed, m.attempts, m.body",
            now, self.cfg.sms_batch, now + timedelta(seconds=self.cfg.sms_lease_s))

    async def _set(self, msg_id: int, state: str, **cols: object) -> None:
        sets = ["state = $2", "lease_until = NULL",
                f"body = CASE WHEN ticket_id LIKE '{CODE_KEY}%' AND $2 NOT IN ('queued', 'sending') THEN NULL ELSE body END"]
        sets += [f"{k} = ${i}" for i, k in enumerate(cols, 3)]
        await self.pool.execute(f"UPDATE sms_messages SET {', '.join(sets)} WHERE id = $1 AND state = 'sending'",
                                msg_id, state, *cols.values())

    async def _within_limit(self, number: str, now_ms: int) -> bool:
        key = self.keys.sms_rate(self.personal.handle(number), now_ms // HOUR_MS)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 7200)
            count, _ = await pipe.execute()
        if count > self.cfg.sms_per_number_per_hour:
            await self.redis.decr(key)
            return False
        return True

    async def _body(self, msg: asyncpg.Record, now_ms: int) -> str | None:
        if msg["kind"] == "notice":
            return msg["body"]
        row = await self.pool.fetchrow("SELECT center, window_code FROM eval_served WHERE ticket_id = $1", msg["ticket_id"])
        rated = await self.pool.fetchval("SELECT 1 FROM reviews WHERE ticket_id = $1 AND round = $2", msg["ticket_id"],
                                         2 if msg["kind"] == "followup" else 1)
        if row is None or rated:
            return None
        round_ = 2 if msg["kind"] == "followup" else 1
        token, _ = await links.mint(self.pool, msg["ticket_id"], round_, now_ms, self.cfg.link_ttl_h)
        link = links.url(self.base, token)
        number = msg["ticket_id"].rsplit("-", 1)[1]
        if msg["kind"] == "followup":
            return texts.followup(number, link)
        if f"-{DOOR}-" in msg["ticket_id"]:
            return texts.door_prompt(number, link)
        center = self.catalog.centers.get(row["center"])
        window = center.windows.get(row["window_code"] or "") if center else None
        zh = f"{center.name_zh}{window.name_zh}" if center and window else "窗口"
        en = f"{window.name_en}, {center.name_en}" if center and window else "the window"
        return texts.prompt(number, zh, en, link, reminder=msg["kind"] == "reminder")

    async def deliver(self, msg: asyncpg.Record) -> str:
        """Send one claimed message, or settle why not; returns the state it ends in."""
        now_ms = self.clock.now_ms()
        number = self.personal.open(msg["to_sealed"])
        if number is None:   # forgotten (QUEUE_PHONE_RETENTION_DAYS) before it was sent
            await self._set(msg["id"], "skipped")
            return "skipped"
        if await opted_out(self.pool, self.personal.lookups(number)):
            await self._set(msg["id"], "suppressed")
            return "suppressed"
        body = await self._body(msg, now_ms)
        if body is None:
            await self._set(msg["id"], "skipped")
            return "skipped"
        if not msg["ticket_id"].startswith(CODE_KEY) and not await self._within_limit(number, now_ms):
            next_hour = (now_ms // HOUR_MS + 1) * HOUR_MS
            await self._set(msg["id"], "queued", due_at=from_ms(next_hour), attempts=msg["attempts"] - 1)
            return "deferred"
        try:
            sid, status = await self.sender.send(number, body)
        except SendError as exc:
            if exc.code == UNSUBSCRIBED:
                await self._set(msg["id"], "suppressed", last_error=exc.summary)
                await suppress_number(self.pool, number, "twilio-21610", self.personal)
                return "suppressed"
            if exc.permanent or msg["attempts"] >= self.cfg.sms_max_attempts:
                log.warning("sms %s to %s failed for good (%s)", msg["id"], self.personal.handle(number), exc.summary)
                await self._set(msg["id"], "failed", last_error=exc.summary)
                return "failed"
            delay = min(3600, self.cfg.sms_backoff_s * 2 ** (msg["attempts"] - 1))
            log.info("sms %s to %s failed (%s); retry in %d s", msg["id"], self.personal.handle(number), exc.summary, delay)
            await self._set(msg["id"], "queued", due_at=from_ms(now_ms + delay * 1000), last_error=exc.summary)
            return "retry"
        await self._set(msg["id"], "sent", twilio_sid=sid, twilio_status=status, sent_at=from_ms(now_ms))
        self.sent += 1
        return "sent"

    async def run_once(self) -> int:
        claimed = await self.claim()
        if claimed:
            gate = asyncio.Semaphore(self.cfg.sms_concurrency)

            async def one(m: asyncpg.Record) -> None:
                async with gate:
                    await self.deliver(m)

            for outcome in await asyncio.gather(*(one(m) for m in claimed), return_exceptions=True):
                if isinstance(outcome, Exception):  # its row comes back when the lease ends
                    log.error("sms delivery failed: %s", type(outcome).__name__)
        return len(claimed)

    async def run(self, stop: asyncio.Event) -> None:
        """Send what is due until ``stop``. A failure (PostgreSQL or Redis away) ends the run, for the
        app's supervisor to start it again after a backoff; claimed rows come back after their lease."""
        while not stop.is_set():
            if await self.run_once() == self.cfg.sms_batch:
                continue  # more may be due: no pause
            try:
                await asyncio.wait_for(stop.wait(), self.cfg.sms_poll_s)
            except asyncio.TimeoutError:
                pass
