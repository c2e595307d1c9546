"""Stream → PostgreSQL: a consumer group reads every center's event stream and records each event
and the latest state of each ticket and window. At-least-once delivery made exactly-once in the
record: events are keyed by (center, stream id) and rows only move forward by version.

Work that follows the record into PostgreSQL (the evaluation's served tickets and SMS prompts) is a
follower of this group: each batch is handed to the followers once recorded, and acknowledged once
they return, so one read and one acknowledgement of every stream serve both, where a group of its
own read, decoded and acknowledged every event again. A follower is at-least-once too: a failure leaves the batch pending, to be
recorded (harmlessly) and followed again."""
from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from ..config import Settings
from .json_rows import ROWS, at, rows
from .personal import PersonalData
from ..engine.keys import Keys
from ..engine.scripts import call_grouped, script
from ..engine.streams import StreamRead, acknowledge
from .trim import Losses

GROUP = "record"

Entry = tuple[str, str, dict[bytes, bytes]]  # center, stream id, fields
Follower = Callable[[list[Entry]], Awaitable[None]]   # takes each recorded batch; must be idempotent


def _split(stream_id: str) -> tuple[int, int]:
    ms, seq = stream_id.split("-")
    return int(ms), int(seq)


GONE_MS = 3_600_000      # a consumer idle this long with nothing pending belongs to an ended process
PRUNE_EVERY_S = 600.0


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def prune_consumers(redis: Redis, streams: list[str], group: str, me: str, idle_ms: int = GONE_MS) -> list[str]:
    """Remove ended processes' consumers from ``group`` on every stream (prune_consumers.lua), so
    XINFO CONSUMERS does not grow with every restart; a live one removed by mistake comes back with
    its next read. Returns the names removed."""
    prune = script(redis, "prune_consumers")
    gone: list[str] = []
    for stream in streams:
        gone += [n.decode() if isinstance(n, bytes) else n for n in await prune(keys=[stream], args=[group, me, idle_ms])]
    return gone


async def claim_abandoned(redis: Redis, streams: dict[str, str], group: str, me: str, idle_ms: int, batch: int,
                          losses: Losses) -> AsyncIterator[list[tuple[str, list]]]:
    """Take over for ``me`` the entries other consumers of ``group`` left pending longer than
    ``idle_ms`` (XAUTOCLAIM) on every stream (key -> its center), a round at a time: one pipelined
    round for all the streams, then rounds for those with more. Each round yields (stream, entries)
    where some were claimed, for the caller to handle before the next; entries trimmed away while
    pending are counted in ``losses``."""
    starts = dict.fromkeys(streams, "0-0")
    while starts:
        async with redis.pipeline(transaction=False) as pipe:
            for stream, start in starts.items():
                pipe.xautoclaim(stream, group, me, idle_ms, start, count=batch)
            replies = await pipe.execute()
        claimed_now: list[tuple[str, list]] = []
        more: dict[str, str] = {}
        for stream, (nxt, claimed, *deleted) in zip(starts, replies):
            if deleted and deleted[0]:   # Redis 7 drops pending entries trimmed away and names them here
                losses.add(streams[stream], group, len(deleted[0]), "trimmed away while pending")
            # Redis 6.2 hands them over without even their id: the trimmer acknowledges and counts them.
            claimed = [e for e in claimed if e[0] is not None]
            if claimed:
                claimed_now.append((stream, claimed))
            nxt = nxt.decode() if isinstance(nxt, bytes) else nxt
            if nxt != "0-0":
                more[stream] = nxt
        if claimed_now:
            yield claimed_now
        starts = more


def stream_vanished(exc: ResponseError) -> bool:
    """Redis lost the stream under a consumer group: NOGROUP on the next read, or, on Redis 7, the
    blocked read itself answered UNBLOCKED when the key went away."""
    text = str(exc)
    return "NOGROUP" in text or text.startswith("UNBLOCKED")


async def ensure_groups(redis: Redis, keys: Keys, centers: list[str]) -> None:
    for c in centers:
        try:
            await redis.xgroup_create(keys.events(c), GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


# Each table takes the batch as one JSON document of rows (json_rows.py): no datetime made in Python.
_EVENTS = ("INSERT INTO events (center, stream_id, stream_ms, stream_seq, type, at, ticket_id, window_code, data)"
           f" SELECT e->>0, e->>1, (e->>2)::bigint, (e->>3)::bigint, e->>4, {at(5)}, e->>6, e->>7, e->8 FROM {ROWS}"
           " ON CONFLICT DO NOTHING")
_TICKETS = ("INSERT INTO tickets (id, center, day, number, queue, class, matter, channel, priority, phone_sealed,"
            " phone_lookup, service_point, status, window_code, recalls, issued_at, sort_at, called_at, started_at,"
            " finished_at, ended_at, version, data)"
            " SELECT e->>0, e->>1, (e->>2)::date, e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, decode(e->>9, 'hex'),"
            f" decode(e->>10, 'hex'), e->>11, e->>12, e->>13, (e->>14)::int, {', '.join(at(i) for i in range(15, 21))},"
            f" (e->>21)::int, e->22 FROM {ROWS}"
            " ON CONFLICT (id, day) DO UPDATE SET status = EXCLUDED.status, queue = EXCLUDED.queue,"
            " class = EXCLUDED.class, window_code = EXCLUDED.window_code, recalls = EXCLUDED.recalls,"
            " called_at = EXCLUDED.called_at, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,"
            " ended_at = EXCLUDED.ended_at, version = EXCLUDED.version, data = EXCLUDED.data"
            " WHERE tickets.version < EXCLUDED.version")


async def record(pool: asyncpg.Pool, entries: list[Entry], personal: PersonalData) -> None:
    """Write a batch in one transaction; safe to repeat. Each table takes the batch as one statement
    (a row-by-row ``executemany`` cost the server twice the CPU at the morning peak). A resident's
    phone is written sealed in its column, never in the JSON kept.

    Rows are written in key order: the instances' persisters share each center's stream (one
    consumer group), so two batches can hold the same tickets in opposite orders, and two
    transactions locking them in those orders deadlock (PostgreSQL then fails one batch)."""
    events, tickets, windows = [], {}, {}
    for center, sid, fields in entries:
        kind = fields[b"type"].decode()
        raw = fields[b"data"]
        data = orjson.loads(raw)
        ms, seq = _split(sid)
        t = data.get("ticket")
        w = data.get("window")
        if t and "phone" in t:
            raw = orjson.dumps({**data, "ticket": {k: v for k, v in t.items() if k != "phone"}})
        events.append((center, sid, ms, seq, kind, data.get("at"), t["id"] if t else None,
                       (w or {}).get("id") or (t or {}).get("window"), orjson.Fragment(raw)))
        if t and (t["id"] not in tickets or tickets[t["id"]]["version"] < t["version"]):
            tickets[t["id"]] = t
        if w and kind.startswith("window."):
            windows[(center, w["id"])] = (center, w["id"], w.get("state", "closed"), orjson.dumps(w).decode(), ms, seq)
    event_rows = rows(sorted(events, key=lambda e: (e[0], e[2], e[3]))) if events else None
    ticket_rows = rows(_ticket_row(tickets[i], personal) for i in sorted(tickets)) if tickets else None
    window_rows = [windows[k] for k in sorted(windows)]
    for attempt in (1, 2):
        try:
            return await _write(pool, event_rows, ticket_rows, window_rows)
        except asyncpg.CheckViolationError as exc:
            # A row routed to the DEFAULT partition while the maintainer attached its month: PostgreSQL
            # then refuses it against the default's new bounds. Written again, it goes to its month.
            if attempt == 2 or "partition constraint" not in str(exc):
                raise


async def _write(pool: asyncpg.Pool, events: str | None, tickets: str | None, windows: list[tuple]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if events:
            await conn.execute(_EVENTS, events)
        if tickets:
            await conn.execute(_TICKETS, tickets)
        if windows:
            await conn.executemany(
                "INSERT INTO window_states (center, window_code, state, data, stream_ms, stream_seq)"
                " VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT (center, window_code) DO UPDATE"
                " SET state = EXCLUDED.state, data = EXCLUDED.data, stream_ms = EXCLUDED.stream_ms,"
                " stream_seq = EXCLUDED.stream_seq WHERE (window_states.stream_ms, window_states.stream_seq)"
                " < (EXCLUDED.stream_ms, EXCLUDED.stream_seq)", windows)


def _ticket_row(t: dict[str, Any], personal: PersonalData) -> tuple:
    """A ticket's row as ``_TICKETS`` reads it: its phone taken out of the JSON kept, sealed apart."""
    phone = t.pop("phone", None) or None
    return (t["id"], t["center"], t["day"], t["number"], t["queue"], t["class"], t["matter"], t["channel"],
            t["priority"], personal.seal(phone), personal.lookup(phone), t.get("service_point"),
            t["status"], t.get("window"), t.get("recalls", 0), t["issued_at"], t["sort_at"], t.get("called_at"),
            t.get("started_at"), t.get("finished_at"), t.get("ended_at"), t["version"], t)


class Persister:
    """One consumer of the ``record`` group; run one per process, any number of processes."""

    def __init__(self, redis: Redis, pool: asyncpg.Pool, keys: Keys, centers: list[str], name: str | None = None,
                 batch: int = 500, claim_idle_ms: int = 30_000, block_ms: int = 1000,
                 on_lost: Callable[[], Awaitable[object]] | None = None, pace_s: float = 0.1,
                 losses: Losses | None = None, personal: PersonalData | None = None,
                 followers: Sequence[Follower] = ()) -> None:
        self.redis, self.pool, self.keys = redis, pool, keys
        self.followers = followers
        self.personal = personal or PersonalData.from_settings(Settings.from_env())
        self.centers = centers
        self.name = name or consumer_name()
        self.batch, self.claim_idle_ms, self.block_ms = batch, claim_idle_ms, block_ms
        self.pace_s = pace_s
        self.recorded = 0
        self.on_lost = on_lost
        self.losses = losses or Losses()
        self._by_key = {keys.events(c).encode(): c for c in centers}
        self._new = StreamRead(("XREADGROUP", "GROUP", GROUP, self.name, "COUNT", batch, "BLOCK", block_ms),
                               [keys.events(c) for c in centers], [">"] * len(centers))

    async def _handle(self, response: list) -> int:
        entries: list[Entry] = []
        acks: dict[str, list[bytes]] = {}
        for key, items in response or []:
            center = self._by_key[key if isinstance(key, bytes) else key.encode()]
            gone = 0
            for sid, fields in items:
                acks.setdefault(center, []).append(sid)
                if not fields:  # trimmed away while pending (redis-py reads it as {}): nothing to record
                    gone += 1
                else:
                    entries.append((center, sid.decode(), fields))
            if gone:
                self.losses.add(center, GROUP, gone, "trimmed away while pending")
        if entries:
            await record(self.pool, entries, self.personal)
            for follow in self.followers:
                await follow(entries)
        await acknowledge(self.redis, GROUP, {self.keys.events(center): ids for center, ids in acks.items()})
        self.recorded += len(entries)
        return len(entries)

    async def drain_own_pending(self) -> None:
        """After a crash this consumer's own delivered-but-unacked entries come first."""
        streams = {self.keys.events(c): "0" for c in self.centers}
        while True:
            response = await self.redis.xreadgroup(GROUP, self.name, streams, count=self.batch)
            if not any(items for _, items in response or []):
                return
            await self._handle(response)
            for key, items in response:
                if items:
                    streams[key.decode() if isinstance(key, bytes) else key] = items[-1][0].decode()

    async def claim_abandoned(self) -> int:
        """Take over entries another consumer left pending longer than the idle limit, and record them."""
        total = 0
        async for claimed in claim_abandoned(self.redis, {self.keys.events(c): c for c in self.centers}, GROUP,
                                             self.name, self.claim_idle_ms, self.batch, self.losses):
            total += await self._handle([(stream.encode(), entries) for stream, entries in claimed])
        return total

    async def step(self) -> int:
        response = await self._new(self.redis)
        return await self._handle(response)

    async def run(self, stop: asyncio.Event, claim_every_s: float = 5.0) -> None:
        """Record until ``stop``. A failure (PostgreSQL or Redis away, a restore that failed) ends the
        run with the entries still pending, for the app's supervisor to start it again after a backoff;
        every start first restores whatever Redis lost (a no-op when nothing was), so a restore that
        failed, or a loss noticed as another error, is retried with the run."""
        if self.on_lost is not None:
            await self.on_lost()
        await ensure_groups(self.redis, self.keys, self.centers)
        await self.drain_own_pending()
        loop = asyncio.get_running_loop()
        next_claim = next_prune = loop.time()
        while not stop.is_set():
            try:
                if loop.time() >= next_claim:
                    await self.claim_abandoned()
                    next_claim = loop.time() + claim_every_s
                if loop.time() >= next_prune:
                    await prune_consumers(self.redis, [self.keys.events(c) for c in self.centers], GROUP, self.name)
                    next_prune = loop.time() + PRUNE_EVERY_S
                if await self.step() < self.batch:
                    # Group commit: let a busy morning's events gather for a moment rather than pay a
                    # read over every stream, a transaction and the acks for each one or two of them.
                    await asyncio.sleep(self.pace_s)
            except ResponseError as exc:
                if not stream_vanished(exc):
                    raise
                # Redis lost its data underneath us: restore (the hot state, then the groups), then go on
                if self.on_lost is not None:
                    await self.on_lost()
                await ensure_groups(self.redis, self.keys, self.centers)


UNDELIVERED_COUNT_MAX = 1_000   # Redis 6.2 keeps no count of a group's unread entries: they are counted up to this
LAG_BATCH = 32   # centers a call of record_lag.lua: under a millisecond of Redis, others' commands waiting no longer


async def lag(redis: Redis, keys: Keys, centers: list[str]) -> dict[str, Any]:
    """Per center: entries delivered to a persister but not yet recorded (pending), entries no persister
    has read yet (undelivered), and how far behind the newest event the record is (ms); centers with
    no stream or group are left out. Worked out in Redis by ``record_lag.lua``: the dashboard, each
    scrape of /metrics and the ops poller ask for every center every few seconds, and parsing each
    center's group description here cost 24 ms of the event loop per asking at the city's 287 centers.
    ``LAG_BATCH`` centers a call (``call_grouped``): a call per center, 287 in one round trip, cost the
    asking process 2.8 ms of CPU at the city and Redis 7.7 ms for the pipeline; now 0.9 and 6.5, at
    most ~0.7 ms a call (``python -m loadtests.record_lag``). On Redis 6.2 the undelivered are
    counted up to UNDELIVERED_COUNT_MAX."""
    replies = await call_grouped(redis, script(redis, "record_lag"), [([keys.events(c)], []) for c in centers],
                                 [GROUP, UNDELIVERED_COUNT_MAX], LAG_BATCH)
    return {c: {"pending": int(r[0]), "undelivered": int(r[1]), "lag_ms": int(r[2])}
            for c, r in zip(centers, replies) if r}
