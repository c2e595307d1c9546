"""A generated service day driven through the real HTTP API, and the test's own ledger of it: every
ticket's times as the API answered them, who was on duty, transfers and ratings. The figures the
tests expect are computed from this ledger alone, never from the server's figures."""
from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from queue_server.clock import FixedClock
from tests.support import AUTH

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 10, 0, 30, tzinfo=timezone.utc)   # Tuesday 08:30 in Shanghai
TARGET_S = 900
HOUR_MS = 3_600_000
EDGES_MIN = (0, 5, 10, 15, 20, 30, 45, 60)
MATTERS = ("hrss-001", "hrss-002", "ca-001", "hrss-004", "mi-006")
CHANNELS = ("kiosk", "app", "staff")
QUEUES = ("appointment", "comprehensive", "quick", "remote")
FINAL = ("finished", "no_show", "cancelled")


@dataclass
class Desk:
    """One window as the test runs it: idle, a called ticket, or one being served until a time."""
    center: str
    window: str
    staff: str
    state: str = "closed"
    ticket: str | None = None
    phase: str = "idle"
    until_ms: int = 0
    plan: str = "finish"


@dataclass
class Ledger:
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfers: Counter = field(default_factory=Counter)
    staff_of: dict[str, str] = field(default_factory=dict)        # ticket -> staff at its latest call
    ratings: dict[str, int] = field(default_factory=dict)         # ticket -> level
    windows: dict[tuple[str, str], str] = field(default_factory=dict)

    def take(self, t: dict[str, Any]) -> None:
        """The ticket as the API last answered it (a field left empty is absent, e.g. the window)."""
        self.tickets[t["id"]] = dict(t)


class Day:
    """Serves one center's day: arrivals on a seeded schedule, desks that call, start, finish, miss,
    transfer and get rated, and now and then a resident who gives up waiting."""

    def __init__(self, client: httpx.AsyncClient, clock: FixedClock, ledger: Ledger, center: str, seed: int,
                 arrivals: int, minutes: int, tablets: dict[str, str]) -> None:
        self.client = client
        self.clock = clock
        self.ledger = ledger
        self.center = center
        self.rng = random.Random(seed)
        start = clock.now_ms()
        self.arrivals = sorted(start + self.rng.randrange(0, minutes * 60) * 1000 for _ in range(arrivals))
        self.desks: dict[str, Desk] = {}
        self.tablets = tablets

    async def post(self, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        r = await self.client.post(path, json=body or {}, headers=headers or AUTH)
        assert r.status_code < 300, f"{path}: {r.status_code} {r.text}"
        return r

    async def set_window(self, window: str, verb: str, staff: str | None = None, reason: str | None = None) -> None:
        body = {"staff_id": staff} if staff else {"reason": reason} if reason else {}
        r = await self.post(f"/api/v1/centers/{self.center}/windows/{window}/{verb}", body)
        state = r.json()["state"]
        self.ledger.windows[(self.center, window)] = state
        desk = self.desks.setdefault(window, Desk(self.center, window, staff or ""))
        desk.state = state
        if staff:
            desk.staff = staff

    async def step(self) -> None:
        now = self.clock.now_ms()
        while self.arrivals and self.arrivals[0] <= now:
            self.arrivals.pop(0)
            body = {"matter": self.rng.choice(MATTERS), "channel": self.rng.choice(CHANNELS),
                    "priority": "priority" if self.rng.random() < 0.15 else "normal"}
            self.ledger.take((await self.post(f"/api/v1/centers/{self.center}/tickets", body)).json())
        for desk in self.desks.values():
            if desk.state == "open":
                await self._desk(desk, now)
        if self.rng.random() < 0.05:
            waiting = [t for t in self.ledger.tickets.values() if t["center"] == self.center and t["status"] == "waiting"]
            if waiting:
                gone = max(waiting, key=lambda t: t["issued_at"])
                self.ledger.take((await self.post(f"/api/v1/tickets/{gone['id']}/cancel")).json())

    async def _desk(self, desk: Desk, now: int) -> None:
        if desk.phase == "idle":
            r = await self.post(f"/api/v1/centers/{self.center}/windows/{desk.window}/call-next")
            if r.status_code == 200:
                t = r.json()["ticket"]
                self.ledger.take(t)
                self.ledger.staff_of[t["id"]] = desk.staff
                desk.ticket, desk.phase, desk.until_ms = t["id"], "called", now + 60_000
                roll = self.rng.random()
                transferred = self.ledger.transfers[t["id"]] > 0
                desk.plan = "no_show" if roll < 0.1 else "transfer" if roll < 0.2 and not transferred else "finish"
        elif desk.phase == "called" and now >= desk.until_ms:
            if desk.plan == "no_show":
                self.ledger.take((await self.post(f"/api/v1/tickets/{desk.ticket}/no-show")).json())
                desk.phase, desk.ticket = "idle", None
            else:
                self.ledger.take((await self.post(f"/api/v1/tickets/{desk.ticket}/start")).json())
                desk.phase, desk.until_ms = "serving", now + self.rng.randrange(4, 25) * 30_000
        elif desk.phase == "serving" and now >= desk.until_ms:
            tid = desk.ticket
            assert tid is not None
            if desk.plan == "transfer":
                self.ledger.take((await self.post(f"/api/v1/tickets/{tid}/transfer", {"to_queue": "quick"})).json())
                self.ledger.transfers[tid] += 1
            else:
                self.ledger.take((await self.post(f"/api/v1/tickets/{tid}/finish")).json())
                if self.rng.random() < 0.7:
                    await self._rate(desk, tid)
            desk.phase, desk.ticket = "idle", None

    async def _rate(self, desk: Desk, tid: str) -> None:
        level = self.rng.choice((5, 5, 5, 4, 4, 3, 2, 1))
        body: dict[str, Any] = {"ticket_id": tid, "level": level, "channel": "tablet",
                                "reasons": ["attitude"] if level <= 2 else []}
        await self.post("/api/v1/reviews", body, {"Authorization": f"Bearer {self.tablets[desk.window]}"})
        self.ledger.ratings[tid] = level


# -- what the figures must be, from the ledger ---------------------------------------------------

def day_start_ms(day: str) -> int:
    return int(datetime(int(day[:4]), int(day[4:6]), int(day[6:]), tzinfo=TZ).timestamp() * 1000)


def wait_s(t: dict[str, Any]) -> float | None:
    return (t["called_at"] - t["issued_at"]) / 1000 if t.get("called_at") else None


def handling_s(t: dict[str, Any]) -> float | None:
    return (t["finished_at"] - t["started_at"]) / 1000 if t.get("finished_at") and t.get("started_at") else None


def percentile(values: list[float], p: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def avg(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def expected_live(ledger: Ledger, centers: list[str], now_ms: int) -> dict[str, Any]:
    """The live figures of these centers (all of them together, for the district) at ``now_ms``."""
    tickets = [t for t in ledger.tickets.values() if t["center"] in centers]
    day = START.astimezone(TZ).strftime("%Y%m%d")
    start = day_start_ms(day)
    today = [t for t in tickets if t["day"] == day]
    called = [t for t in today if t.get("called_at")]
    waits = [wait_s(t) for t in called]
    finished = [t for t in today if t["status"] == "finished"]
    handlings = [handling_s(t) for t in finished]
    waiting = [t for t in tickets if t["status"] == "waiting"]
    recent_calls = [wait_s(t) for t in called if now_ms - HOUR_MS < t["called_at"] <= now_ms]
    recent_done = [handling_s(t) for t in finished if now_ms - HOUR_MS < t["finished_at"] <= now_ms]
    issued_curve, served_curve = [0] * 96, [0] * 96
    for t in today:
        issued_curve[(t["issued_at"] - start) // 900_000] += 1
    for t in finished:
        served_curve[(t["finished_at"] - start) // 900_000] += 1
    hist = [0] * len(EDGES_MIN)
    for w in waits:
        hist[max(i for i, e in enumerate(EDGES_MIN) if w / 60 >= e)] += 1
    levels = Counter(level for tid, level in ledger.ratings.items() if ledger.tickets[tid]["center"] in centers)
    rated = sum(levels.values())
    good, bad = levels[4] + levels[5], levels[1] + levels[2]
    states = Counter(s for (c, _), s in ledger.windows.items() if c in centers)
    oldest = min((t["issued_at"] for t in waiting), default=None)
    no_shows = sum(t["status"] == "no_show" for t in today)
    return {
        "issued": len(today), "served": len(finished), "no_shows": no_shows,
        "cancelled": sum(t["status"] == "cancelled" for t in today),
        "transfers": sum(n for tid, n in ledger.transfers.items() if ledger.tickets[tid]["center"] in centers),
        "called": len(called),
        "waiting": {q: sum(t["queue"] == q for t in waiting) for q in QUEUES},
        "waiting_total": len(waiting), "oldest_waiting_at": oldest,
        "longest_wait_s": (now_ms - oldest) / 1000 if oldest else 0,
        "wait_avg_s": avg(waits), "handling_avg_s": avg(handlings),
        "wait_avg_1h_s": avg(recent_calls), "called_1h": len(recent_calls),
        "handling_avg_1h_s": avg(recent_done), "finished_1h": len(recent_done),
        "service_level": rate(sum(w <= TARGET_S for w in waits), len(waits)),
        "no_show_rate": rate(no_shows, len(finished) + no_shows),
        "open_windows": states["open"], "paused_windows": states["paused"],
        "curve_issued": issued_curve, "curve_served": served_curve, "histogram": hist,
        "ratings": {"rated": rated, "good": good, "bad": bad, "levels": {str(n): levels[n] for n in range(1, 6)},
                    "satisfaction_rate": rate(good, rated)},
        "bad_open": bad,
    }


def expected_report(ledger: Ledger, key) -> dict[Any, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Report rows keyed by ``key(ticket)``: the figures the reports must give for each group."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for t in ledger.tickets.values():
        groups.setdefault(key(t), []).append(t)
    out = {}
    for k, ts in groups.items():
        waits = [w for t in ts if (w := wait_s(t)) is not None]
        handlings = [x for t in ts if (x := handling_s(t)) is not None]
        finished = sum(t["status"] == "finished" for t in ts)
        no_shows = sum(t["status"] == "no_show" for t in ts)
        levels = [ledger.ratings[t["id"]] for t in ts if t["id"] in ledger.ratings]
        out[k] = {
            "issued": len(ts), "finished": finished, "no_shows": no_shows,
            "cancelled": sum(t["status"] == "cancelled" for t in ts),
            "unfinished": sum(t["status"] not in FINAL for t in ts),
            "transfers": sum(ledger.transfers[t["id"]] for t in ts), "called": len(waits),
            "wait_avg_s": avg(waits), "wait_p50_s": percentile(waits, 0.5), "wait_p90_s": percentile(waits, 0.9),
            "wait_max_s": max(waits, default=None), "service_level": rate(sum(w <= TARGET_S for w in waits), len(waits)),
            "handling_avg_s": avg(handlings), "handling_p50_s": percentile(handlings, 0.5),
            "handling_p90_s": percentile(handlings, 0.9), "no_show_rate": rate(no_shows, finished + no_shows),
            "rated": len(levels), "satisfaction_rate": rate(sum(level >= 4 for level in levels), len(levels)),
            "rating_avg": avg([float(level) for level in levels]), "bad_reviews": sum(level <= 2 for level in levels),
        }
    return out
