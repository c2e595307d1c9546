"""Ticket numbers reserved ahead in PostgreSQL, so that a number never repeats within a day at a
center, whatever Redis loses.

Why a reservation and not "the recorded maximum plus a margin": the numbers Redis hands out but
the persister has not recorded yet are unbounded in count whenever PostgreSQL is slow or away, so
no fixed margin provably covers them. A high-water mark does: Redis hands out a number only below
the day's ``reserved_to`` (per center and prefix), and that mark is raised in PostgreSQL *before*
Redis may use it. Whatever Redis loses — its data, its last second of AOF, a failover to a replica
that lacked recent writes — every number it handed out is at or below the recorded mark, so a
sequence resumed above the mark (``resume``) cannot repeat one.

The issue path never waits on PostgreSQL while the reserve lasts: a background task (``run``)
keeps each prefix reserved ahead by ``max(minimum, pace × runway)`` and tops it up when half is
used. During a PostgreSQL outage the queue keeps issuing until the reserve runs out (the runway:
five minutes at the recent pace by default, never fewer than 100 numbers); then issuing answers
503 until PostgreSQL is back, because a number beyond the mark could repeat. The price is a gap:
after Redis loses its data the next number is above the mark, up to a reserve's worth past the last
one handed out.

Sequences are trusted only on the Redis server that resumed them: the reserve hash keeps that
server's run id, and the issue script refuses to number tickets on another (a Redis restarted from
its AOF may have rolled back the last second of increments). The first issue there — or the
background task, whichever comes first — resumes the day from the record.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import date

import asyncpg
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

from ..clock import Clock
from ..domain.catalog import Catalog
from ..domain.numbering import service_day
from ..engine.keys import Keys
from ..engine.scripts import script

log = logging.getLogger("queue_server.numbers")

TICK_S = 1.0                        # the reserves of the centers that numbered tickets here since the last tick
SWEEP_S = 30.0                      # and each center's once in this long, numbered or not (the next day, a Redis restarted)
AHEAD_OF_MIDNIGHT_MS = 600_000      # the next service day is reserved ten minutes before it starts
PACE_DECAY = 0.95                   # per second: the reserve follows the recent peak pace, slowly down

_RESERVE = ("INSERT INTO number_reservations AS r (center, day, prefix, reserved_to)"
            " SELECT c, d, p, n FROM unnest($1::text[], $2::date[], $3::text[], $4::int[]) AS x(c, d, p, n)"
            " ON CONFLICT (center, day, prefix) DO UPDATE SET reserved_to = GREATEST(r.reserved_to, EXCLUDED.reserved_to),"
            " updated_at = now() RETURNING center, day, prefix, reserved_to")
_HANDED_OUT = ("SELECT prefix, max(n) AS n FROM ("
               " SELECT prefix, reserved_to AS n FROM number_reservations WHERE center = $1 AND day = $2"
               " UNION ALL SELECT left(number, 1), substring(number from 2)::int FROM tickets WHERE center = $1 AND day = $2"
               ") x GROUP BY prefix")


def as_date(day: str) -> date:
    return date(int(day[:4]), int(day[4:6]), int(day[6:]))


@dataclass
class _Pace:
    """A prefix's sequence at the last top-up, and the recent peak of numbers handed out a second."""
    seq: int
    at: float
    per_s: float = 0.0


@dataclass
class NumberReserve:
    """Keeps every center's daily numbers reserved ahead; one per process, any number of processes."""

    redis: Redis
    pool: asyncpg.Pool
    keys: Keys
    catalog: Catalog
    clock: Clock
    minimum: int = 100
    runway_s: int = 300
    reserve_script: AsyncScript = field(init=False)
    _pace: dict[tuple[str, str, str], _Pace] = field(init=False, default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(init=False, default_factory=dict)
    _numbered: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.reserve_script = script(self.redis, "number_reserve")

    def _prefixes(self, center: str) -> list[str]:
        return sorted({q.prefix for q in self.catalog.centers[center].queues.values()})

    def numbered(self, center: str) -> None:
        """A ticket was numbered at ``center`` in this process: the next tick looks at its reserve. The
        tick looks only at such centers and those whose turn came (with 287 of them, looking at all
        every second was 5 % of an http process's CPU at the morning peak); each center's turn comes
        every ``SWEEP_S``."""
        self._numbered.add(center)

    def _ahead(self, center: str, day: str, prefix: str) -> int:
        pace = self._pace.get((center, day, prefix))
        return max(self.minimum, int(pace.per_s * self.runway_s) if pace else 0)

    async def resume(self, center: str, day: str) -> None:
        """Lift the day's sequences above every number that may have been handed out (the recorded
        reservation, and the highest recorded ticket for days numbered before reservations), and
        trust them on this Redis server from now on. Nothing is reserved beyond that until the next top-up."""
        rows = await self.pool.fetch(_HANDED_OUT, center, as_date(day))
        high = {p: 0 for p in self._prefixes(center)} | {r["prefix"]: r["n"] for r in rows}
        args = ["resume"] + [x for p, n in sorted(high.items()) for x in (p, n)]
        await self.reserve_script(keys=[self.keys.number_reserve(center, day), self.keys.sequence(center, day)],
                                  args=args)
        log.info("numbers of %s on %s resumed above %s", center, day, high)

    async def _refill(self, wanted: dict[tuple[str, str], dict[str, int]]) -> list[tuple[str, str]]:
        """Record ``reserved_to`` for each (center, day) → {prefix: number} in one statement, then let
        Redis hand the numbers out. Returns the (center, day)s this Redis server has not resumed yet."""
        if not wanted:
            return []
        rows = [(c, as_date(d), p, n) for (c, d), prefixes in wanted.items() for p, n in prefixes.items()]
        recorded = await self.pool.fetch(_RESERVE, *[list(col) for col in zip(*rows)])
        raised: dict[tuple[str, str], list[str]] = {}
        for r in recorded:
            raised.setdefault((r["center"], r["day"].strftime("%Y%m%d")), []).extend((r["prefix"], str(r["reserved_to"])))
        unverified = []
        for (c, d), args in raised.items():
            answer = await self.reserve_script(
                keys=[self.keys.number_reserve(c, d), self.keys.sequence(c, d)], args=["raise", *args])
            if answer in (b"unverified", "unverified"):
                unverified.append((c, d))
        return unverified

    async def _state(self, pairs: list[tuple[str, str]]) -> list[tuple[str, dict[str, str], dict[str, int]]]:
        """Per (center, day): the run id of the Redis server holding its keys (on a cluster, the master
        of the center's slot), its reserve hash and its sequences."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for c, d in pairs:
                pipe.hgetall(self.keys.number_reserve(c, d))
                pipe.hgetall(self.keys.sequence(c, d))
            replies = await pipe.execute()
        runs = await self._runs(pairs)
        out = []
        for i in range(len(pairs)):
            reserve, seqs = replies[2 * i], replies[2 * i + 1]
            out.append((runs[i], {k.decode(): v.decode() for k, v in reserve.items()},
                        {k.decode(): int(v) for k, v in seqs.items()}))
        return out

    async def _runs(self, pairs: list[tuple[str, str]]) -> list[str]:
        if not isinstance(self.redis, RedisCluster):
            return [(await self.redis.info("server"))["run_id"]] * len(pairs)
        by_node: dict[str, str] = {}
        out = []
        for c, d in pairs:
            node = self.redis.get_node_from_key(self.keys.sequence(c, d))
            if node.name not in by_node:
                by_node[node.name] = (await self.redis.info("server", target_nodes=node))["run_id"]
            out.append(by_node[node.name])
        return out

    async def top_up(self, only: tuple[str, str, str] | None = None, centers: set[str] | None = None) -> None:
        """Resume what this Redis server has not resumed, and reserve ahead whatever has less than half
        its reserve left: at every center, or at ``centers``; ``only`` (center, day, prefix): just that
        one, now (the issue path found it short)."""
        if only is not None:
            pairs = [only[:2]]
        else:
            now = self.clock.now_ms()
            pairs = sorted({(c.code, service_day(t, c.timezone)) for c in self.catalog.centers.values()
                            if centers is None or c.code in centers for t in (now, now + AHEAD_OF_MIDNIGHT_MS)})
            for gone in [k for k in self._pace if (centers is None or k[0] in centers) and k[:2] not in pairs]:
                del self._pace[gone]   # a day gone by
        states = await self._state(pairs)
        for (c, d), (run, reserve, _) in zip(pairs, states):
            if reserve.get("_run") != run:
                await self.resume(c, d)
        if any(reserve.get("_run") != run for run, reserve, _ in states):
            states = await self._state(pairs)
        wanted: dict[tuple[str, str], dict[str, int]] = {}
        t = asyncio.get_running_loop().time()
        for (c, d), (_, reserve, seqs) in zip(pairs, states):
            for p in ([only[2]] if only else self._prefixes(c)):
                seq, ceiling = seqs.get(p, 0), int(reserve.get(p, 0))
                pace = self._pace.get((c, d, p))
                if pace is None:
                    self._pace[(c, d, p)] = pace = _Pace(seq, t)
                elif only is None and t > pace.at:
                    decay = PACE_DECAY ** (t - pace.at)
                    pace.per_s = max((seq - pace.seq) / (t - pace.at), pace.per_s * decay)
                    pace.seq, pace.at = seq, t
                ahead = self._ahead(c, d, p)
                if only is not None:   # ran out between two ticks: at least twice what went since the last
                    ahead = max(ahead, 2 * (seq - pace.seq))
                if ceiling - seq < ahead / 2:
                    wanted.setdefault((c, d), {})[p] = seq + ahead
        for c, d in await self._refill(wanted):   # Redis restarted between the look and the raise
            await self.resume(c, d)
            await self._refill({(c, d): wanted[(c, d)]})

    async def ensure(self, center: str, day: str, prefix: str) -> None:
        """The issue script found no number to hand out: resume or reserve now, once for all the
        requests that found the same (they wait for this one)."""
        lock = self._locks.setdefault(center, asyncio.Lock())
        if lock.locked():
            async with lock:
                return
        async with lock:
            await self.top_up((center, day, prefix))

    async def run(self, stop: asyncio.Event) -> None:
        """Keep every center's reserve topped up: each tick, the centers that numbered tickets here and
        those whose turn came — every center's comes every ``SWEEP_S``, the turns spread over it (all
        287 centers' reserves at once held the event loop for tens of ms every 30 s). A backing service
        away ends this with its error and the app's supervisor starts it again after a backoff (every
        center looked at first); the reserve lasts meanwhile."""
        loop = asyncio.get_running_loop()
        turn: dict[str, float] = {}   # center -> when its reserve is looked at next, numbered or not
        while not stop.is_set():
            now, codes = loop.time(), list(self.catalog.centers)
            if len(turn) > len(codes):   # centers gone from the catalog
                turn = {c: t for c, t in turn.items() if c in self.catalog.centers}
            new = [c for c in codes if c not in turn]
            due = {c for c in codes if turn.get(c, now) <= now} | self._numbered
            self._numbered = set()
            if due:
                await self.top_up(centers=due)
            for c in due:
                turn[c] = now + SWEEP_S
            for i, c in enumerate(new):   # the first looks: the next ones spread over a sweep
                turn[c] = now + SWEEP_S * (i + 1) / len(new)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)
