"""The queue operations, each one Lua script call: thin Python that picks keys and arguments and
turns script errors into domain errors. Nothing here decides policy; domain/ and the scripts do.

With ``Settings.durability == "record"`` an operation returns only once its event and ticket row
are in PostgreSQL too (docs/durability.md): the request writes them itself through the persister's
idempotent ``record()``, keyed on the event's stream id, so the persister writing them again later
changes nothing. PostgreSQL away then means 503 *after* the Redis change: the operation happened in
the hot state (screens show it) but was not acknowledged; it becomes durable when the persister
catches up, and a client that retries finds it done (the same ticket for the same Idempotency-Key,
window_busy naming the called ticket, illegal_transition for a finish already made)."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from ..clock import Clock
from ..config import Settings
from ..domain.assistant import PRESENT_FROM
from ..domain.catalog import Catalog, Center, Matter
from ..domain.network import local_moment, served_points, serving_windows
from ..domain.numbering import center_of, day_of, service_day
from ..domain.policy import ratio_cycle
from ..domain.tickets import EVENT_OF_ACTION, TRANSITIONS, Priority, wait_class
from ..domain.wait import Outlook, RecentHandling
from ..record.numbers import NumberReserve, as_date
from ..record.persister import record
from ..record.personal import PersonalData
from .keys import Keys
from .scripts import Scripts

TICKET_TTL_S = 2 * 86_400
RECORD_TIMEOUT_S = 5.0
SHORT_OF_NUMBERS_RETRIES = 8   # a burst that outruns each top-up gets a reserve twice as large each time
# PostgreSQL away (stopped, restarting, unreachable, out of connections): the operation answers 503.
RECORD_AWAY = (OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
               asyncpg.exceptions.CannotConnectNowError, asyncpg.exceptions.AdminShutdownError,
               asyncpg.exceptions.CrashShutdownError, asyncpg.exceptions.TooManyConnectionsError)
_FIELDS = json.JSONDecoder()   # raw_decode: the fields end where their JSON does


class EngineError(Exception):
    """A refused operation: ``code`` is stable (not_found, illegal_transition, window_busy, ...);
    ``fields`` are what a client can act on (window_busy: the ticket still at the window)."""

    def __init__(self, code: str, message: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}


@dataclass(frozen=True)
class Position:
    ticket: dict[str, Any]
    ahead: int
    estimated_wait_s: int
    open_windows: int
    duplicate: bool = False


def _parse(raw: bytes | str) -> dict[str, Any]:
    return orjson.loads(raw)


def record_away(doing: str) -> EngineError:
    return EngineError("record_unavailable", f"PostgreSQL is not answering ({doing}); retry shortly")


class QueueEngine:
    """``pool`` (PostgreSQL) numbers tickets from the reserve (record/numbers.py), answers for
    tickets Redis no longer holds, and makes operations durable in the ``record`` mode."""

    def __init__(self, redis: Redis, catalog: Catalog, settings: Settings, clock: Clock,
                 pool: asyncpg.Pool | None = None, personal: PersonalData | None = None) -> None:
        self.redis = redis
        self.catalog = catalog
        self.settings = settings
        self.clock = clock
        self.pool = pool
        self.keys = Keys(settings.key_prefix)
        self.scripts = Scripts(redis)
        self.cycle = ratio_cycle(settings.priority_ratio_normal, settings.priority_ratio_priority)
        self.numbers = None if pool is None else NumberReserve(
            redis, pool, self.keys, catalog, clock, settings.number_reserve_min, settings.number_reserve_runway_s)
        self._typical: tuple[Catalog | None, dict[str, float]] = (None, {})
        self.durable = settings.durability == "record"
        self.personal = personal or PersonalData.from_settings(settings)
        if self.durable and pool is None:
            raise ValueError("durability 'record' needs the PostgreSQL pool")

    async def _run(self, name: str, keys: list[str], args: list[Any], center: str = "") -> dict[str, Any]:
        """One script; an event it appended is made durable first in the ``record`` mode."""
        try:
            result = _parse(await self.scripts.call(name, keys, args))
        except ResponseError as exc:
            text = str(exc)
            if text.startswith("QS:"):
                _, code, message = text.split(":", 2)
                fields: dict[str, Any] = {}
                if message.startswith("{"):   # _lib.lua's fail() with fields
                    fields, end = _FIELDS.raw_decode(message)
                    message = message[end + 1:]
                raise EngineError(code, message, fields) from None
            raise
        event_id = result.pop("event_id", None)
        if self.durable and event_id is not None:
            await self._record(center, event_id)
        return result

    async def _record(self, center: str, event_id: str) -> None:
        """Write one event (and its ticket or window row) to PostgreSQL as the persister would."""
        entries = await self.redis.xrange(self.keys.events(center), min=event_id, max=event_id)
        if not entries:   # trimmed already: only possible far behind the stream's length limit
            raise EngineError("record_unavailable", f"event {event_id} is gone from the stream")
        try:
            async with asyncio.timeout(RECORD_TIMEOUT_S):
                await record(self.pool, [(center, event_id, entries[0][1])], self.personal)  # type: ignore[arg-type]
        except RECORD_AWAY:
            raise record_away("recording the operation; it took effect and will be recorded") from None

    def center(self, code: str) -> Center:
        try:
            return self.catalog.centers[code]
        except KeyError:
            raise EngineError("not_found", f"unknown center {code!r}") from None

    def _position(self, result: dict[str, Any]) -> Position:
        ahead = int(result.get("ahead", 0))
        open_windows = int(result.get("open_windows", 0))
        line = result.get("line") or None
        return Position(
            ticket=result["ticket"],
            ahead=ahead,
            estimated_wait_s=0 if line is None else self.outlook(line, open_windows).wait_s(
                self.cycle, self.typical_s, float(self.settings.default_handling_s)),
            open_windows=open_windows,
            duplicate=bool(result.get("duplicate", False)),
        )

    @staticmethod
    def outlook(line: dict[str, Any], open_windows: int) -> Outlook:
        """A line's detail as a position script reads it (_lib.lua ``line_detail``; Lua's cjson writes an
        empty list as ``{}``)."""
        return Outlook(cls=line["class"], own_ahead=int(line["own"]), priority_waiting=int(line["priority"]),
                       normal_waiting=int(line["normal"]), open_windows=open_windows, mix=line["mix"] or {},
                       recent={m: RecentHandling.parse(v) for m, v in (line["recent"] or {}).items()})

    @property
    def typical_s(self) -> dict[str, float]:
        """The catalog's typical handling time of every matter, the estimate's prior (s)."""
        if self._typical[0] is not self.catalog:
            self._typical = (self.catalog, {m.code: m.typical_minutes * 60.0 for m in self.catalog.matters.values()})
        return self._typical[1]

    async def issue(
        self,
        center_code: str,
        matter: str,
        channel: str,
        priority: str = "normal",
        phone: str | None = None,
        service_point: str | None = None,
        appointment_at_ms: int | None = None,
        idempotency_key: str | None = None,
        status_token: str | None = None,
    ) -> Position:
        """``status_token``: the digest of the secret that lets the resident act on the ticket from its
        status page (residents/: a remote ticket's cancel); kept with the ticket, never shown."""
        center = self.center(center_code)
        m = self.catalog.matters.get(matter)
        if m is None:
            raise EngineError("unknown_matter", f"unknown matter {matter!r}")
        serving: tuple[str, ...] = ()
        if service_point is not None:
            serving = self._point_windows(center, service_point, m)
        queue = center.queue_for(matter, channel)
        if queue is None:
            raise EngineError("no_queue", f"center {center_code} has no queue for {matter} via {channel}")
        now = self.clock.now_ms()
        day = service_day(now, center.timezone)
        cls = wait_class(priority)
        sort_at = appointment_at_ms if priority == Priority.APPOINTMENT and appointment_at_ms else now
        fields = {"matter": matter, "channel": channel, "priority": priority}
        k = self.keys
        if phone:
            fields["phone"] = phone
        line = queue.code
        if service_point:
            fields["service_point"] = service_point
            line = fields["line"] = k.point_line(service_point)
        if appointment_at_ms:
            fields["appointment_at"] = str(appointment_at_ms)
        if status_token:
            fields["status_token"] = status_token
        keys = [
            k.sequence(center_code, day),
            k.idempotency(center_code, idempotency_key or "-"),
            k.events(center_code),
            k.live(center_code),
            k.waiting(center_code, line, cls),
            k.alive(center_code),
            k.number_reserve(center_code, day),
            *(k.window(center_code, w) for w in serving),
        ]
        args = [
            k.center_base(center_code), center_code, day, queue.prefix, queue.code,
            cls, now, sort_at, orjson.dumps(fields).decode(),
            self.settings.idempotency_ttl_s if idempotency_key else 0,
            self.settings.stream_maxlen, TICKET_TTL_S,
        ]
        for attempt in range(SHORT_OF_NUMBERS_RETRIES + 1):
            try:
                result = await self._run("issue", keys, args, center_code)
                break
            except EngineError as exc:
                if exc.code not in ("numbers_exhausted", "numbers_unverified") or self.numbers is None \
                        or attempt == SHORT_OF_NUMBERS_RETRIES:
                    raise
            try:   # the reserve ran out between two top-ups, or this Redis server has not resumed the day
                async with asyncio.timeout(RECORD_TIMEOUT_S):
                    await self.numbers.ensure(center_code, day, queue.prefix)
            except RECORD_AWAY:
                raise record_away("reserving ticket numbers; the reserve ran out") from None
        if self.numbers is not None:
            self.numbers.numbered(center_code)
        if self.durable and result.get("duplicate"):
            await self._recorded(result["ticket"]["id"])
        return self._position(result)

    async def _recorded(self, ticket_id: str) -> None:
        """The ``record`` mode's answer to a repeated issue: the first ticket, once it is recorded."""
        try:
            async with asyncio.timeout(RECORD_TIMEOUT_S):
                found = await self.pool.fetchval("SELECT 1 FROM tickets WHERE id = $1 AND day = $2",  # type: ignore[union-attr]
                                                 ticket_id, day_of(ticket_id))  # type: ignore[union-attr]
        except RECORD_AWAY:
            raise record_away("checking the ticket is recorded") from None
        if not found:
            raise record_away(f"ticket {ticket_id} is issued but not recorded yet")

    def lines_of(self, center_code: str, window: str) -> list[str]:
        """The waiting lines a window takes from now: its queues', and for a remote window the lines of
        the service points assigned to it at this moment."""
        center = self.center(center_code)
        w = center.windows.get(window)
        if w is None:
            return []
        lines = list(w.queues)
        if w.kind == "remote":
            moment = local_moment(self.clock.now_ms(), center.timezone)
            lines += [self.keys.point_line(p) for p in served_points(center.assignments, window, moment)]
        return lines

    async def call_next(self, center_code: str, window: str, ticket_id: str | None = None, reason: str = "") -> dict[str, Any] | None:
        center = self.center(center_code)
        w = center.windows.get(window)
        if w is None:
            raise EngineError("not_found", f"unknown window {window!r} at {center_code}")
        k = self.keys
        keys = [k.window(center_code, window), k.events(center_code), k.window_waiting(center_code, window),
                k.alive(center_code)]
        for q in self.lines_of(center_code, window):
            keys += [k.waiting(center_code, q, "p"), k.waiting(center_code, q, "a"), k.waiting(center_code, q, "n")]
        result = await self._run(
            "call_next", keys,
            [k.center_base(center_code), center_code, window, self.clock.now_ms(), self.cycle, ticket_id or "", reason,
             self.settings.stream_maxlen, TICKET_TTL_S], center_code,
        )
        return result if result.get("ticket") else None

    def _point_windows(self, center: Center, point: str, matter: Matter) -> tuple[str, ...]:
        """The remote windows a ticket at ``point`` would wait for, or the refusal: an unknown or
        inactive point, a matter not handled remotely, no window assigned now."""
        p = center.service_points.get(point)
        if p is None:
            raise EngineError("unknown_service_point", f"unknown service point {point!r}")
        if p.status != "active":
            raise EngineError("point_not_active", f"service point {point} is {p.status}", {"point_status": p.status})
        if not matter.remote_eligible:
            raise EngineError("not_remote_eligible",
                              f"matter {matter.code} ({matter.name_zh}) is not handled through a remote window",
                              {"matter": matter.code})
        serving = serving_windows(center.assignments, point, local_moment(self.clock.now_ms(), center.timezone))
        if not serving:
            raise EngineError("point_unserved", f"no remote window is assigned to service point {point} now")
        return serving

    def _ticket_center(self, ticket_id: str) -> str:
        code = center_of(ticket_id)
        if code not in self.catalog.centers:
            raise EngineError("not_found", f"ticket {ticket_id!r} not found")
        return code

    async def recall(self, ticket_id: str, acting_window: str | None = None) -> dict[str, Any]:
        c = self._ticket_center(ticket_id)
        k = self.keys
        return await self._run(
            "recall", [k.ticket(c, ticket_id), k.events(c), k.live(c), k.alive(c)],
            [k.center_base(c), self.clock.now_ms(), self.settings.recall_limit, acting_window or "",
             self.settings.stream_maxlen, TICKET_TTL_S, c], c,
        )

    async def mark_present(self, ticket_id: str, point: str, by: str) -> dict[str, Any]:
        """The resident of a ticket taken at ``point`` is there for the remote clerk: a
        ``ticket.present`` event the first time, the ticket unchanged (``duplicate``) after."""
        c = self._ticket_center(ticket_id)
        k = self.keys
        return await self._run(
            "mark_present", [k.ticket(c, ticket_id), k.events(c), k.alive(c)],
            [k.center_base(c), self.clock.now_ms(), point, ",".join(sorted(PRESENT_FROM)), self.settings.stream_maxlen,
             TICKET_TTL_S, c, by], c,
        )

    async def material_event(self, ticket_id: str, kind: str, body: dict[str, Any]) -> None:
        """A scan of the ticket's material was uploaded or reviewed (materials/): the event carries the
        ticket unchanged, so it reaches whoever follows that ticket."""
        c = self._ticket_center(ticket_id)
        k = self.keys
        await self._run("material_event", [k.ticket(c, ticket_id), k.events(c), k.alive(c)],
                        [self.clock.now_ms(), self.settings.stream_maxlen, c, kind, orjson.dumps(body).decode()], c)

    async def center_event(self, center: str, kind: str, body: dict[str, Any]) -> None:
        """An event about the center that names no live ticket (a package's step, a failed inspection)."""
        await self._run("center_event", [self.keys.events(center)],
                        [self.clock.now_ms(), self.settings.stream_maxlen, center, kind, orjson.dumps(body).decode()],
                        center)

    async def act(
        self,
        ticket_id: str,
        action: str,
        acting_window: str | None = None,
        fields: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        unless_present: bool = False,
    ) -> dict[str, Any]:
        """start, finish, no-show, pause, resume, cancel, transfer: one table-driven script.
        ``unless_present``: refused (``present``) once the resident checked in."""
        allowed, to = TRANSITIONS[action]
        c = self._ticket_center(ticket_id)
        k = self.keys
        return await self._run(
            "transition", [k.ticket(c, ticket_id), k.events(c), k.live(c), k.stats(c), k.alive(c)],
            [k.center_base(c), ",".join(sorted(allowed)), to, EVENT_OF_ACTION[action], self.clock.now_ms(),
             acting_window or "", orjson.dumps(fields or {}).decode(), self.settings.stream_maxlen, TICKET_TTL_S,
             orjson.dumps(extra or {}).decode(), c, action,
             ",".join(self.lines_of(c, acting_window)) if acting_window else "", "1" if unless_present else ""], c,
        )

    async def transfer(
        self, ticket_id: str, to_queue: str | None = None, to_window: str | None = None,
        acting_window: str | None = None, reason: str = "",
    ) -> dict[str, Any]:
        """Back into a line (another queue, or one window's own line) keeping the original issue time."""
        c = self._ticket_center(ticket_id)
        center = self.catalog.centers[c]
        if (to_queue is None) == (to_window is None):
            raise EngineError("invalid", "give exactly one of to_queue or to_window")
        fields: dict[str, str] = {"target_window": ""}
        if to_queue is not None:
            fields["line"] = ""   # out of a service point's line too
            if to_queue not in center.queues:
                raise EngineError("unknown_queue", f"unknown queue {to_queue!r} at {c}")
            fields["queue"] = to_queue
        else:
            if to_window not in center.windows:
                raise EngineError("unknown_window", f"unknown window {to_window!r} at {c}")
            fields["target_window"] = to_window  # type: ignore[assignment]
        return await self.act(ticket_id, "transfer", acting_window, fields,
                              {"to_queue": to_queue, "to_window": to_window, "reason": reason})

    async def set_window(self, center_code: str, window: str, state: str, staff: dict[str, str] | None = None,
                         reason: str = "") -> dict[str, Any]:
        center = self.center(center_code)
        w = center.windows.get(window)
        if w is None:
            raise EngineError("not_found", f"unknown window {window!r} at {center_code}")
        k = self.keys
        keys = [k.window(center_code, window), k.events(center_code)] + [k.open_windows(center_code, q) for q in w.queues]
        return await self._run(
            "window_state", keys,
            [k.center_base(center_code), center_code, window, state, self.clock.now_ms(),
             orjson.dumps(staff or {}).decode(), reason, self.settings.stream_maxlen], center_code,
        )

    async def ticket(self, ticket_id: str) -> Position:
        c = self._ticket_center(ticket_id)
        k = self.keys
        result = await self._run("ticket_status", [k.ticket(c, ticket_id)],
                                 [k.center_base(c), self.clock.now_ms()])
        if not result.get("ticket"):
            return await self._recorded_position(c, ticket_id)
        return self._position(result)

    async def _recorded_position(self, center: str, ticket_id: str) -> Position:
        """A ticket Redis no longer holds (a rebuild brings back only the live ones) answers from the
        record for as long as Redis would have kept it: its day and the next."""
        parts = ticket_id.split("-")
        if self.pool is None or len(parts) != 3 or len(parts[1]) != 8 or not parts[1].isascii() or not parts[1].isdigit():
            raise EngineError("not_found", f"ticket {ticket_id!r} not found")
        today = service_day(self.clock.now_ms(), self.catalog.centers[center].timezone)
        try:
            age = (as_date(today) - as_date(parts[1])).days
        except ValueError:
            age = -1
        if not 0 <= age < TICKET_TTL_S // 86_400:
            raise EngineError("not_found", f"ticket {ticket_id!r} not found")
        try:
            async with asyncio.timeout(RECORD_TIMEOUT_S):
                row = await self.pool.fetchrow("SELECT data, phone_sealed FROM tickets WHERE id = $1 AND day = $2",
                                               ticket_id, as_date(parts[1]))
        except RECORD_AWAY:
            raise record_away("looking the ticket up in the record") from None
        if row is None:
            raise EngineError("not_found", f"ticket {ticket_id!r} not found")
        ticket = orjson.loads(row["data"])
        if row["phone_sealed"] is not None:   # as Redis had it: whoever shows it masks it
            ticket["phone"] = self.personal.open(row["phone_sealed"])
        return Position(ticket=ticket, ahead=0, estimated_wait_s=0, open_windows=0)

    async def snapshot(self, center_code: str, window: str | None = None) -> dict[str, Any]:
        """The center's live state and the stream id it is valid at, read atomically; with ``window``,
        only that window and its tickets (the waiting counts stay the center's)."""
        center = self.center(center_code)
        k = self.keys
        points = [k.point_line(p) for p in center.service_points]
        snap = await self._run(
            "snapshot", [k.events(center_code), k.live(center_code)],
            [k.center_base(center_code), self.clock.now_ms(), window or ",".join(center.windows),
             ",".join([*center.queues, *points]), window or ""],
        )
        # Service points' lines count in the queue their tickets belong to (the remote one).
        waiting = snap.get("waiting") or {}
        at_points = sum(waiting.pop(line, 0) for line in points)
        remote = center.queue_for("", "service_point")
        if remote is not None and points:
            waiting[remote.code] = waiting.get(remote.code, 0) + at_points
        return snap

    async def sync_catalog(self) -> None:
        """Give every window's hash its name and lines; its live state is left as it is."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for center in self.catalog.centers.values():
                for w in center.windows.values():
                    key = self.keys.window(center.code, w.code)
                    pipe.hset(key, mapping={"name_zh": w.name_zh, "name_en": w.name_en, "kind": w.kind,
                                            "queues": ",".join(w.queues)})
                    pipe.hsetnx(key, "state", "closed")
            await pipe.execute()
