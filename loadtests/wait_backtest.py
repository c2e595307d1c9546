"""Backtest of the wait estimate: replays a day's events, computes at every issue what the resident
would have been told by the coarse formula (``estimate_wait_s``: people ahead × the line's moving
average ÷ open windows) and by the live estimate (``Outlook``: per queue and matter medians with the
catalog's prior, the policy's cycle, the open windows), and compares both with the wait that
followed (issued → first called). Prints the median and p90 absolute error in minutes of each.

    python -m loadtests.wait_backtest [--days 5] [--seed 1]          # generated days (below)
    python -m loadtests.wait_backtest --record DSN --center C --since 2026-11-30 --until 2026-12-01

A generated day: one center's main line served by 4 windows from 08:30 (two close 11:30-13:00 for
lunch), walk-ins by a Poisson process peaking mid-morning (more than the windows can take, so a line
builds), 10 % priority, the demo catalog's matters, each with a true mean that is the catalog's
typical time × a factor of its own (the catalog is never quite right), log-normal handling times,
and 4 % of tickets finished at once (a clerk closing a batch). Windows call by the real cycle (PNN).
``--record`` replays the events PostgreSQL recorded (a load test's or a real day's) instead."""
from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import random
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from loadtests.harness import fresh_database, key_prefix, percentile, services
from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.domain.policy import ratio_cycle
from queue_server.domain.wait import SAMPLES_KEPT, Outlook, RecentHandling, estimate_wait_s
from queue_server.engine.queue_engine import QueueEngine
from queue_server.record.demo_data import MATTERS, QUEUES

CYCLE = ratio_cycle(2, 1)
DEFAULT_S = 600.0          # Settings.default_handling_s
LINE = "comprehensive"
MIX_SAMPLE = 30            # as _lib.lua's line_detail


@dataclass(frozen=True)
class Event:
    """One recorded happening, as the stream has it: seconds since the day's start, the kind
    (issued, called, started, finished, gone, window), and its fields."""
    at: float
    kind: str
    ticket: str = ""
    queue: str = ""
    cls: str = "n"
    matter: str = ""
    window: str = ""
    state: str = ""
    queues: tuple[str, ...] = ()


@dataclass
class Replay:
    """The line as the scripts keep it, rebuilt event by event, and what each estimate said."""
    typical_s: Mapping[str, float]
    waiting: dict[str, dict[str, list[str]]] = field(default_factory=lambda: defaultdict(lambda: {"p": [], "a": [], "n": []}))
    where: dict[str, tuple[str, str, str]] = field(default_factory=dict)     # ticket -> queue, class, matter
    open: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    moving: dict[str, float] = field(default_factory=dict)                   # transition.lua's h:<queue>
    samples: dict[tuple[str, str], deque[float]] = field(default_factory=lambda: defaultdict(lambda: deque(maxlen=SAMPLES_KEPT)))
    issued_at: dict[str, float] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)
    told: dict[str, tuple[int, int]] = field(default_factory=dict)           # ticket -> (coarse, live)
    waits: dict[str, float] = field(default_factory=dict)

    def apply(self, e: Event) -> None:
        if e.kind == "window":
            for q in e.queues:
                (self.open[q].add if e.state == "open" else self.open[q].discard)(e.window)
        elif e.kind == "issued":
            self._issue(e)
        elif e.kind in ("called", "gone"):
            self._leave(e.ticket)
            if e.kind == "called" and e.ticket in self.issued_at and e.ticket not in self.waits:
                self.waits[e.ticket] = e.at - self.issued_at[e.ticket]
        elif e.kind == "started":
            self.started_at[e.ticket] = e.at
        elif e.kind == "finished" and e.ticket in self.started_at and e.ticket in self.where:
            queue, _, matter = self.where[e.ticket]
            took = e.at - self.started_at.pop(e.ticket)
            self.moving[queue] = self.moving.get(queue, took) * 0.8 + took * 0.2
            self.samples[(queue, matter)].appendleft(took)

    def _leave(self, ticket: str) -> None:
        if ticket in self.where:
            queue, cls, _ = self.where[ticket]
            line = self.waiting[queue][cls]
            if ticket in line:
                line.remove(ticket)

    def _issue(self, e: Event) -> None:
        line = self.waiting[e.queue]
        own = len(line[e.cls])
        priority, normal = len(line["p"]), len(line["n"]) + len(line["a"])
        ahead = own if e.cls == "p" else own + priority + (len(line["a"]) if e.cls == "n" else 0)
        mix: dict[str, int] = defaultdict(int)
        for t in line[e.cls][:MIX_SAMPLE]:
            mix[self.where[t][2]] += 1
        opened = len(self.open[e.queue])
        coarse = estimate_wait_s(ahead, self.moving.get(e.queue, DEFAULT_S), opened, self.typical_s.get(e.matter, 0.0))
        recent = {m: r for m in mix if (r := RecentHandling.of(self.samples[(e.queue, m)]))}
        live = Outlook(e.cls, ahead - priority if e.cls == "n" else own, priority, normal, opened, dict(mix),
                       recent).wait_s(CYCLE, self.typical_s, DEFAULT_S)
        self.told[e.ticket] = (coarse, live)
        self.where[e.ticket] = (e.queue, e.cls, e.matter)
        self.issued_at[e.ticket] = e.at
        line[e.cls].append(e.ticket)

    def errors(self) -> tuple[list[float], list[float]]:
        """Absolute errors in minutes of the coarse and the live estimate, over the tickets called."""
        pairs = [(self.told[t], w) for t, w in self.waits.items() if t in self.told]
        return [abs(c - w) / 60 for (c, _), w in pairs], [abs(n - w) / 60 for (_, n), w in pairs]


def replay(events: Iterable[Event], typical_s: Mapping[str, float]) -> Replay:
    r = Replay(typical_s)
    for e in events:
        r.apply(e)
    return r


@dataclass
class DayPlan:
    """What happens to one center's main line in a generated day, whoever serves it: the walk-ins
    (seconds from 08:30, matter, class), each matter's true mean handling time, the windows and
    their lunch, and the draws of handling and walking times."""
    arrivals: list[tuple[float, str, str]]
    true_mean: dict[str, float]
    rng: random.Random
    windows: tuple[str, ...] = ("w1", "w2", "w3", "w4")
    lunch: tuple[float, float] = (3 * 3600, 4.5 * 3600)      # 11:30-13:00: the last two windows close

    def handling_s(self, matter: str) -> float:
        return 10.0 if self.rng.random() < 0.04 else self.rng.lognormvariate(0, 0.5) * self.true_mean[matter] / 1.133

    def walk_s(self) -> float:
        return self.rng.uniform(15, 60)


def day_plan(seed: int) -> DayPlan:
    rng = random.Random(seed)
    quick = next(q for q in QUEUES if q["code"] == "quick")["matters"]
    matters = [m for m in MATTERS if m["code"] not in quick]
    weights = [rng.uniform(0.2, 1.0) for _ in matters]
    true_mean = {m["code"]: m["typical_minutes"] * 60 * rng.lognormvariate(0, 0.35) for m in matters}
    arrivals: list[tuple[float, str, str]] = []
    at = 0.0
    while True:
        hour = at / 3600
        rate = 24 if 0.5 <= hour < 3 else 15 if hour < 5 else 11       # walk-ins an hour (the windows take ~18)
        at += rng.expovariate(rate / 3600)
        if at >= 8 * 3600:
            return DayPlan(arrivals, true_mean, rng)
        arrivals.append((at, rng.choices(matters, weights)[0]["code"], "p" if rng.random() < 0.10 else "n"))


def generated_day(seed: int) -> list[Event]:
    """One simulated day of one center's main line (see the module's docstring), served in memory."""
    plan = day_plan(seed)
    events: list[Event] = [Event(0, "window", window=w, state="open", queues=(LINE,)) for w in plan.windows]
    heap: list[tuple[float, int, str, str]] = []           # (at, order, what, window or ticket)
    order = 0

    def push(at: float, what: str, who: str) -> None:
        nonlocal order
        order += 1
        heapq.heappush(heap, (at, order, what, who))

    for n, (at, matter, cls) in enumerate(plan.arrivals, start=1):
        push(at, "arrive", f"t{n}|{matter}|{cls}")
    for w in plan.windows:
        push(0, "free", w)
    for w in plan.windows[2:]:
        push(plan.lunch[0], "lunch", w)
        push(plan.lunch[1], "back", w)
    waiting: dict[str, list[tuple[str, str]]] = {"p": [], "n": []}
    cycle_pos = {w: 0 for w in plan.windows}
    idle: set[str] = set()
    away: set[str] = set()

    def call(w: str, now: float) -> None:
        want = CYCLE[cycle_pos[w]]
        cls = ("p" if want == "P" else "n") if waiting["p" if want == "P" else "n"] else ("p" if waiting["p"] else "n")
        if cls == ("p" if want == "P" else "n"):
            cycle_pos[w] = (cycle_pos[w] + 1) % len(CYCLE)
        ticket, matter = waiting[cls].pop(0)
        events.append(Event(now, "called", ticket=ticket, window=w))
        start = now + plan.walk_s()
        events.append(Event(start, "started", ticket=ticket))
        push(start + plan.handling_s(matter), "done", f"{w}|{ticket}")

    while heap:
        now, _, what, who = heapq.heappop(heap)
        if what == "arrive":
            ticket, matter, cls = who.split("|")
            events.append(Event(now, "issued", ticket=ticket, queue=LINE, cls=cls, matter=matter))
            waiting[cls].append((ticket, matter))
            if idle:
                w = min(idle)
                idle.discard(w)
                call(w, now)
        elif what in ("free", "done", "back"):
            if what == "done":
                w, ticket = who.split("|")
                events.append(Event(now, "finished", ticket=ticket))
            else:
                w = who
            if what == "back":
                away.discard(w)
                events.append(Event(now, "window", window=w, state="open", queues=(LINE,)))
            if w in away:
                continue
            if waiting["p"] or waiting["n"]:
                call(w, now)
            else:
                idle.add(w)
        elif what == "lunch":
            away.add(who)
            idle.discard(who)
            events.append(Event(now, "window", window=who, state="closed", queues=(LINE,)))
    events.sort(key=lambda e: e.at)
    return events


async def drive_day(plan: DayPlan, engine: QueueEngine, clock: FixedClock, center: str) -> None:
    """The same plan served by a real engine (its Lua scripts choose whom each window calls, by the
    policy's cycle) on the clock's day from 08:30: what it records is a day to replay from the record."""
    start = clock.now_ms() / 1000
    heap: list[tuple[float, int, str, str]] = []
    order = 0

    def push(at: float, what: str, who: str) -> None:
        nonlocal order
        order += 1
        heapq.heappush(heap, (at, order, what, who))

    for at, matter, cls in plan.arrivals:
        push(at, "arrive", f"{matter}|{cls}")
    for w in plan.windows:
        push(0, "back", w)
    for w in plan.windows[2:]:
        push(plan.lunch[0], "lunch", w)
        push(plan.lunch[1], "back", w)
    idle: set[str] = set()
    away: set[str] = set()

    async def call(w: str, now: float) -> bool:
        called = await engine.call_next(center, w)
        if not called or not called.get("ticket"):
            return False
        t = called["ticket"]
        push(now + plan.walk_s(), "start", f"{w}|{t['id']}|{t['matter']}")
        return True

    while heap:
        now, _, what, who = heapq.heappop(heap)
        clock.set(datetime.fromtimestamp(start + now, timezone.utc))
        if what == "arrive":
            matter, cls = who.split("|")
            await engine.issue(center, matter, "kiosk", "priority" if cls == "p" else "normal")
            for w in sorted(idle):
                idle.discard(w)
                if await call(w, now):
                    break
                idle.add(w)
        elif what == "start":
            w, tid, matter = who.split("|")
            await engine.act(tid, "start", w)
            push(now + plan.handling_s(matter), "done", f"{w}|{tid}")
        elif what in ("done", "back"):
            w, _, tid = who.partition("|")
            if what == "done":
                await engine.act(tid, "finish", w)
                if w in away:             # lunch began during this service: the window closes now
                    await engine.set_window(center, w, "closed")
                    continue
            else:
                away.discard(w)
                await engine.set_window(center, w, "open", {"id": f"{center}-s0{w[1:]}", "name": "backtest", "no": w})
            if not await call(w, now):
                idle.add(w)
        elif what == "lunch":
            away.add(who)
            if who in idle:               # free: it closes at once; busy: after its current service
                idle.discard(who)
                await engine.set_window(center, who, "closed")


async def recorded_events(dsn: str, center: str, since: date, until: date) -> tuple[list[Event], dict[str, float]]:
    """A center's recorded events of [since, until) (Shanghai days) as the replay reads them, and the
    catalog's typical times."""
    import asyncpg

    from queue_server.record.catalog import load_catalog

    tz = ZoneInfo("Asia/Shanghai")
    start, end = (datetime.combine(d, time(), tz) for d in (since, until))
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        catalog = await load_catalog(pool)
        rows = await pool.fetch("SELECT type, at, ticket_id, window_code, data FROM events WHERE center = $1 AND at >= $2 "
                                "AND at < $3 ORDER BY stream_ms, stream_seq", center, start, end)
    finally:
        await pool.close()
    windows = catalog.centers[center].windows
    kinds = {"ticket.called": "called", "ticket.started": "started", "ticket.finished": "finished",
             "ticket.no_show": "gone", "ticket.cancelled": "gone", "ticket.transferred": "gone"}
    states = {"window.opened": "open", "window.paused": "paused", "window.closed": "closed"}
    events: list[Event] = []
    for r in rows:
        at = (r["at"] - start).total_seconds()
        data = json.loads(r["data"])
        t = data.get("ticket") or {}
        if r["type"] == "ticket.issued":
            events.append(Event(at, "issued", ticket=t["id"], queue=t.get("line") or t["queue"], cls=t["class"],
                                matter=t.get("matter", "")))
        elif r["type"] in kinds:
            events.append(Event(at, kinds[r["type"]], ticket=r["ticket_id"] or t.get("id", "")))
        elif r["type"] in states and r["window_code"] in windows:
            events.append(Event(at, "window", window=r["window_code"], state=states[r["type"]],
                                queues=windows[r["window_code"]].queues))
    return events, {m.code: m.typical_minutes * 60.0 for m in catalog.matters.values()}


def figures(r: Replay) -> dict[str, object]:
    coarse, live = r.errors()
    return {"tickets": len(coarse),
            "coarse": {"median_min": round(percentile(coarse, 50), 2), "p90_min": round(percentile(coarse, 90), 2)},
            "live": {"median_min": round(percentile(live, 50), 2), "p90_min": round(percentile(live, 90), 2)}}


async def through_engine(days: int, seed: int) -> dict[str, object]:
    """Generated days served by a real engine (Redis scripts, every operation recorded in PostgreSQL),
    then replayed from the record: the backtest over recorded events."""
    import asyncpg

    from queue_server.app import redis_client
    from queue_server.record.catalog import load_catalog
    from queue_server.record.rebuild import rebuild_if_lost

    center, first = "jingansi", date(2026, 11, 30)
    with services() as (redis_url, dsn), key_prefix(redis_url, "wb") as prefix:
        async with fresh_database(dsn) as url:
            settings = Settings(redis_url=redis_url, database_url=url, key_prefix=prefix, durability="record")
            clock = FixedClock(datetime.combine(first, time(8, 30), ZoneInfo("Asia/Shanghai")))
            redis = redis_client(redis_url)
            pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
            try:
                engine = QueueEngine(redis, await load_catalog(pool), settings, clock, pool)
                await rebuild_if_lost(redis, pool, engine.keys, engine.catalog, clock)
                await engine.sync_catalog()
                merged = Replay({})
                for d in range(days):
                    day = first + timedelta(days=d)
                    clock.set(datetime.combine(day, time(8, 30), ZoneInfo("Asia/Shanghai")))
                    await drive_day(day_plan(seed + d), engine, clock, center)
                    events, typical = await recorded_events(url, center, day, day + timedelta(days=1))
                    r = replay(events, typical)
                    merged.told.update({f"{d}:{t}": v for t, v in r.told.items()})
                    merged.waits.update({f"{d}:{t}": v for t, v in r.waits.items()})
            finally:
                await redis.aclose()
                await pool.close()
    return figures(merged)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--record", metavar="DSN", help="replay what this database recorded instead")
    ap.add_argument("--through-engine", action="store_true",
                    help="serve the generated days by a real engine and replay them from the record")
    ap.add_argument("--center", default="jingansi")
    ap.add_argument("--since", type=date.fromisoformat)
    ap.add_argument("--until", type=date.fromisoformat)
    a = ap.parse_args()
    if a.record:
        since = a.since or date.today()
        events, typical = asyncio.run(recorded_events(a.record, a.center, since, a.until or since + timedelta(days=1)))
        print(json.dumps({"source": "record", **figures(replay(events, typical))}))
        return
    if a.through_engine:
        print(json.dumps({"source": "generated days served by the engine, replayed from the record",
                          **asyncio.run(through_engine(a.days, a.seed))}))
        return
    typical = {m["code"]: m["typical_minutes"] * 60.0 for m in MATTERS}
    per_day = [figures(replay(generated_day(a.seed + d), typical)) for d in range(a.days)]
    merged = Replay(typical)
    for d in range(a.days):   # the errors of every day together
        r = replay(generated_day(a.seed + d), typical)
        merged.told.update({f"{d}:{t}": v for t, v in r.told.items()})
        merged.waits.update({f"{d}:{t}": v for t, v in r.waits.items()})
    print(json.dumps({"source": "generated", "days": per_day, "all": figures(merged)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
