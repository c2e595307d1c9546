"""The served ticket a review is bound to: center, window, the staff on duty when it finished, matter.

Written from each ``ticket.finished`` event as the record reads it (finished.py). A rating can
arrive before the record has caught up, so ``find`` falls back to Redis, which is
authoritative for live tickets, and then to the record in PostgreSQL. Each process also keeps the
tickets it saw finish lately (``RecentlyFinished``): most ratings come from the tablet within
seconds, and need none of that."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import orjson

from queue_server.domain.numbering import day_of
from queue_server.engine.queue_engine import EngineError, QueueEngine
from queue_server.realtime.events import LiveEvent
from queue_server.record.json_rows import ROWS, at, rows

_SCAN = 2000  # newest stream entries searched for a just-finished ticket's event
_PAGE = 50


@dataclass(frozen=True, slots=True)
class Served:
    ticket_id: str
    center: str
    window: str | None
    staff_id: str | None
    matter: str
    day: date
    finished_at_ms: int
    has_phone: bool
    unrated: bool = False


class NotServed(Exception):
    """The ticket does not exist, or did not finish (``status`` says what it is)."""

    def __init__(self, status: str | None) -> None:
        super().__init__(status or "not found")
        self.status = status


def _day(ticket: dict[str, Any]) -> date:
    d = str(ticket["day"])
    return date(int(d[:4]), int(d[4:6]), int(d[6:]))


def from_event(data: dict[str, Any]) -> Served:
    """The served ticket from a ``ticket.finished`` event, as recorded or as screens get it (the phone
    masked): the staff on duty is the window's."""
    t, w = data["ticket"], data.get("window") or {}
    return Served(t["id"], t["center"], t.get("window") or w.get("id"), w.get("staff_id") or None, t["matter"], _day(t),
                  int(t["finished_at"]), bool(t.get("phone") or t.get("phone_masked")))


class RecentlyFinished:
    """The last ``size`` tickets this process saw finish: a tablet rates within seconds of the
    finish, and its served ticket found here costs no query. A process of every tier hears them as a
    listener on the realtime hub (which hands it every center's events); the http tier has no hub,
    and recording them as served tells it of those its persister read (tiers.py). A ticket that fell out, or
    that another process recorded, is found the usual way."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._served: OrderedDict[str, Served] = OrderedDict()

    def take(self, event: LiveEvent) -> None:
        if event.type == "ticket.finished":
            self.remember(from_event(event.data))

    def remember(self, served: Served) -> None:
        self._served[served.ticket_id] = served
        if len(self._served) > self.size:
            self._served.popitem(last=False)

    def get(self, ticket_id: str) -> Served | None:
        return self._served.get(ticket_id)



async def save(conn: asyncpg.Connection | asyncpg.Pool, served: list[Served]) -> None:
    """Record served tickets (known ones are left as they are), a whole batch in one statement."""
    if not served:
        return
    await conn.execute(
        "INSERT INTO eval_served (ticket_id, center, window_code, staff_id, matter, day, finished_at, has_phone)"
        f" SELECT e->>0, e->>1, e->>2, e->>3, e->>4, (e->>5)::date, {at(6)}, (e->>7)::bool FROM {ROWS}"
        " ON CONFLICT (ticket_id) DO NOTHING",
        rows((s.ticket_id, s.center, s.window, s.staff_id, s.matter, s.day, s.finished_at_ms, s.has_phone) for s in served))


def from_row(r: asyncpg.Record) -> Served:
    """The served ticket from its ``eval_served`` row (or a row with the same columns)."""
    return Served(r["ticket_id"], r["center"], r["window_code"], r["staff_id"], r["matter"], r["day"],
                  int(r["finished_at"].timestamp() * 1000), r["has_phone"], r["unrated_at"] is not None)


async def lookup(conn: asyncpg.Connection | asyncpg.Pool, ticket_id: str, lock: bool = False) -> Served | None:
    r = await conn.fetchrow("SELECT * FROM eval_served WHERE ticket_id = $1" + (" FOR UPDATE" if lock else ""), ticket_id)
    return from_row(r) if r else None


async def _finished_event_in_stream(engine: QueueEngine, center: str, ticket_id: str) -> dict[str, Any] | None:
    """Newest first, a page at a time: a tablet rates within seconds of the finish, so the event is
    nearly always in the first page (reading all ``_SCAN`` entries each time cost 6 % of a server's
    CPU under the district load profile)."""
    newest, seen = "+", 0
    while seen < _SCAN:
        page = await engine.redis.xrevrange(engine.keys.events(center), max=newest, count=_PAGE)
        for entry_id, fields in page:
            if fields.get(b"type") == b"ticket.finished":
                data = orjson.loads(fields[b"data"])
                if data["ticket"]["id"] == ticket_id:
                    return data
        if len(page) < _PAGE:
            return None
        seen += len(page)
        newest = "(" + (entry_id.decode() if isinstance(entry_id, bytes) else entry_id)
    return None


async def find(engine: QueueEngine, pool: asyncpg.Pool, ticket_id: str) -> Served:
    """The served ticket, recording it if only Redis or the ticket record knew it yet."""
    known = await lookup(pool, ticket_id)
    if known:
        return known
    try:
        live = (await engine.ticket(ticket_id)).ticket
    except EngineError:
        live = None
    if live is not None:
        if live["status"] != "finished":
            raise NotServed(live["status"])
        event = await _finished_event_in_stream(engine, live["center"], ticket_id)
        if event is None:  # trimmed away already: the window hash still names who was on duty
            window = live.get("window")
            staff = await engine.redis.hget(engine.keys.window(live["center"], window), "staff_id") if window else None
            event = {"ticket": live, "window": {"id": window, "staff_id": staff.decode() if staff else None}}
        served = from_event(event)
    else:
        day = day_of(ticket_id)   # the record's month: a look-up by id alone would read every month
        row = await pool.fetchrow("SELECT status, data FROM tickets WHERE id = $1 AND day = $2", ticket_id, day)
        if row is None or row["status"] != "finished":
            raise NotServed(row["status"] if row else None)
        ev = await pool.fetchval("SELECT data FROM events WHERE ticket_id = $1 AND type = 'ticket.finished'"
                                 " AND at >= $2::timestamp AT TIME ZONE 'Asia/Shanghai'"
                                 " AND at < ($2 + 2)::timestamp AT TIME ZONE 'Asia/Shanghai'"
                                 " ORDER BY stream_ms DESC LIMIT 1", ticket_id, day)
        served = from_event(orjson.loads(ev) if ev else {"ticket": orjson.loads(row["data"])})
    await save(pool, [served])
    return served
