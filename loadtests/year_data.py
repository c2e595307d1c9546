"""A year (or any run of days) of generated tickets and their events, bulk-loaded with COPY straight
into the record's tables — the volume reports and exports are measured and tested on, without
serving each ticket through the API. Seeded, so a run is repeatable.

Each ticket: issued between 08:30 and 16:30 local time; 4% cancelled while waiting, 6% no-shows,
the rest finished (3% of those transferred once); waits exponential around 9 minutes, handling
3 minutes plus exponential around 6; a window and the staff on duty there; 30% leave a phone."""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from queue_server.domain.record_months import add_months, month_start
from queue_server.record.partitions import create_months
from queue_server.record.personal import DEMO_KEY, PersonalData, parse_key

TZ = ZoneInfo("Asia/Shanghai")
TICKET_COLUMNS = ("id", "center", "day", "number", "queue", "class", "matter", "channel", "priority", "phone_sealed",
                  "phone_lookup", "service_point", "status", "window_code", "recalls", "issued_at", "sort_at", "called_at", "started_at",
                  "finished_at", "ended_at", "version", "data")
EVENT_COLUMNS = ("center", "stream_id", "stream_ms", "stream_seq", "type", "at", "ticket_id", "window_code", "data")
COMPREHENSIVE = ("hrss-001", "hrss-002", "hrss-003", "ca-001", "ca-002", "ca-003")
QUICK = ("hrss-004", "mi-006", "hpf-002")
CHANNELS = ("kiosk",) * 14 + ("app",) * 3 + ("staff",) * 3
BATCH = 20_000
PERSONAL = PersonalData(parse_key(DEMO_KEY))   # the tests' and the demo's key: phones sealed as the server seals them


def _ts(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms is not None else None


class YearData:
    """Rows for the ``tickets`` and ``events`` tables, generated one center-day at a time."""

    def __init__(self, centers: Sequence[str], first_day: date, days: int, per_day: int, seed: int = 7,
                 events: bool = True) -> None:
        self.centers = list(centers)
        self.events = events
        self.first_day = first_day
        self.days = days
        self.per_day = per_day
        self.rng = random.Random(seed)
        self.seq = {c: 0 for c in self.centers}

    def center_days(self) -> Iterator[tuple[str, date]]:
        for d in range(self.days):
            for c in self.centers:
                yield c, self.first_day + timedelta(days=d)

    def rows(self, center: str, day: date) -> tuple[list[tuple], list[tuple]]:
        rng = self.rng
        opening = int(datetime(day.year, day.month, day.day, 8, 30, tzinfo=TZ).timestamp() * 1000)
        issued = sorted(opening + rng.randrange(0, 8 * 3600) * 1000 for _ in range(rng.randint(self.per_day * 8 // 10,
                                                                                                self.per_day * 12 // 10)))
        numbers = {"A": 0, "B": 0}
        tickets: list[tuple] = []
        events: list[tuple] = []
        ymd = day.strftime("%Y%m%d")
        for at in issued:
            quick = rng.random() < 0.25
            prefix, queue = ("B", "quick") if quick else ("A", "comprehensive")
            numbers[prefix] += 1
            number = f"{prefix}{numbers[prefix]:03d}"
            tid = f"{center}-{ymd}-{number}"
            matter = rng.choice(QUICK if quick else COMPREHENSIVE)
            channel = rng.choice(CHANNELS)
            window = f"w{rng.randint(1, 6)}"
            staff = f"{center}-s{window[1:].zfill(2)}"
            roll = rng.random()
            called = started = finished = None
            transferred_at = None
            if roll < 0.04:
                status, ended = "cancelled", at + rng.randrange(60, 1800) * 1000
            else:
                called = at + int(min(rng.expovariate(1 / 540), 5400) * 1000)
                if roll < 0.10:
                    status, ended = "no_show", called + 180_000
                else:
                    started = called + 45_000
                    finished = started + int((180 + rng.expovariate(1 / 360)) * 1000)
                    status, ended = "finished", finished
                    if rng.random() < 0.03:
                        transferred_at = started + (finished - started) // 2
            phone = f"139{rng.randrange(10**8):08d}" if rng.random() < 0.3 else None
            view = {"id": tid, "center": center, "number": number, "day": ymd, "queue": queue, "class": "n",
                    "matter": matter, "channel": channel, "priority": "normal", "status": status,
                    "issued_at": at, "sort_at": at, "recalls": 0, "version": 5}
            if status != "cancelled":
                view.update(window=window, called_at=called)
            if started:
                view.update(started_at=started, finished_at=finished)
            view["ended_at"] = ended
            tickets.append((tid, center, day, number, queue, "n", matter, channel, "normal", PERSONAL.seal(phone),
                            PERSONAL.lookup(phone), None, status,
                            window if called else None, 0, _ts(at), _ts(at), _ts(called), _ts(started), _ts(finished),
                            _ts(ended), 5, orjson.dumps(view).decode()))
            if not self.events:
                continue
            kinds = [("ticket.issued", at)]
            if called:
                kinds.append(("ticket.called", called))
            if started:
                kinds.append(("ticket.started", started))
            if transferred_at:
                kinds.append(("ticket.transferred", transferred_at))
            kinds.append((f"ticket.{status}", ended))
            for kind, when in kinds:
                self.seq[center] += 1
                w = {"id": window, "staff_id": staff} if kind != "ticket.issued" and called else None
                data = {"type": kind, "at": when, "center": center, "ticket": {**view, "status": status}}
                if w:
                    data["window"] = w
                events.append((center, f"{when}-{self.seq[center]}", when, self.seq[center], kind, _ts(when), tid,
                               window if w else None, orjson.dumps(data).decode()))
        return tickets, events


async def load_year(conn: asyncpg.Connection, centers: Sequence[str], first_day: date, days: int, per_day: int,
                    events: bool = True, seed: int = 7) -> tuple[int, int]:
    """COPY the generated rows in batches; returns (tickets, events) written. A partitioned record
    (migration 080) gets the months first, as the server's maintainer would have made them; the
    events of a month's last day may run into the next."""
    data = YearData(centers, first_day, days, per_day, seed, events)
    if await conn.fetchval("SELECT to_regclass('tickets_default') IS NOT NULL"):
        first, last = month_start(first_day), month_start(first_day + timedelta(days=days + 1))
        months = [first]
        while months[-1] < last:
            months.append(add_months(months[-1], 1))
        await create_months(conn, months)
    n_tickets = n_events = 0
    tickets: list[tuple] = []
    evs: list[tuple] = []

    async def flush() -> None:
        nonlocal tickets, evs
        if tickets:
            await conn.copy_records_to_table("tickets", records=tickets, columns=TICKET_COLUMNS)
        if evs:
            await conn.copy_records_to_table("events", records=evs, columns=EVENT_COLUMNS)
        tickets, evs = [], []

    for center, day in data.center_days():
        t, e = data.rows(center, day)
        tickets += t
        evs += e
        n_tickets += len(t)
        n_events += len(e)
        if len(tickets) + len(evs) >= BATCH:
            await flush()
    await flush()
    await conn.execute("ANALYZE tickets")
    await conn.execute("ANALYZE events")
    return n_tickets, n_events
