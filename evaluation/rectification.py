"""The rectification loop every bad review opens: contact the resident, verify, rectify, close —
each stage with a working-day deadline — or appeal a malicious review, which only the district
upholds or dismisses. Overdue stages are escalated once each, as events on the center's stream."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from redis.asyncio import Redis

from queue_server.clock import from_ms
from queue_server.domain.calendar import Calendar
from queue_server.engine.keys import Keys

from .config import EvalConfig
from .events import emit

# action -> (states it may start from, state it leads to; None: back to the state before the appeal)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "contact": (frozenset({"open"}), "contacted"),
    "verify": (frozenset({"contacted"}), "verified"),
    "rectify": (frozenset({"verified"}), "rectified"),
    "close": (frozenset({"rectified"}), "closed"),
    "appeal": (frozenset({"open", "contacted", "verified"}), "appealed"),
    "uphold": (frozenset({"appealed"}), "upheld"),
    "dismiss": (frozenset({"appealed"}), None),
}
STATES = ("open", "contacted", "verified", "rectified", "closed", "appealed", "upheld")
DISTRICT_ONLY = frozenset({"uphold", "dismiss"})  # a center may not quash its own bad reviews
STAMP = {"contacted": "contacted_at", "verified": "verified_at", "rectified": "rectified_at", "closed": "closed_at",
         "upheld": "closed_at"}
# (stage, the timestamp that completes it, its deadline)
STAGES = (("contact", "contacted_at", "contact_due"), ("resolve", "verified_at", "resolve_due"),
          ("rectify", "rectified_at", "rectify_due"))
PAUSED = frozenset({"appealed", "upheld", "closed"})


class CaseError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def next_state(action: str, state: str, appealed_from: str | None) -> str:
    if action not in TRANSITIONS:
        raise CaseError("unknown_action", f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}")
    allowed, to = TRANSITIONS[action]
    if state not in allowed:
        raise CaseError("illegal_transition", f"a case that is {state} cannot {action}")
    return to or appealed_from or "open"


def overdue_stages(case: dict[str, Any], now: datetime) -> list[str]:
    """Stages past their deadline and not done, on a case that is still being worked."""
    if case["state"] in PAUSED:
        return []
    return [stage for stage, done, due in STAGES if case[done] is None and now > case[due]]


def late_stages(case: dict[str, Any], now: datetime) -> list[str]:
    """Stages done after their deadline, or not done and past it: what makes a case not on time."""
    out = []
    for stage, done, due in STAGES:
        finished = case[done]
        if (finished is not None and finished > case[due]) or (finished is None and case["state"] not in PAUSED and now > case[due]):
            out.append(stage)
    return out


def deadlines(now: datetime, cfg: EvalConfig, tz: str, calendar: Calendar) -> tuple[datetime, datetime, datetime]:
    """When a case opened ``now`` must be contacted, resolved and rectified: the 1-5-15 working days
    of the opening calendar (the State Council's holidays and adjusted workdays, and the file's)."""
    contact, resolve, rectify = (calendar.add_working_days(now, n, tz) for n in cfg.deadlines)
    return contact, resolve, rectify


@dataclass(frozen=True)
class Moved:
    case: dict[str, Any]
    from_state: str


async def act(conn: asyncpg.Connection, case_id: int, action: str, author: str, note: str, now_ms: int) -> Moved:
    """One step of the case in the caller's transaction, with its note; the review of an upheld
    appeal is excluded from the figures."""
    row = await conn.fetchrow("SELECT * FROM rectifications WHERE id = $1 FOR UPDATE", case_id)
    if row is None:
        raise CaseError("not_found", f"no rectification case {case_id}")
    to = next_state(action, row["state"], row["appealed_from"])
    now = from_ms(now_ms)
    sets, args = ["state = $2"], [case_id, to]
    if action == "appeal":
        sets.append(f"appealed_from = ${len(args) + 1}")
        args.append(row["state"])
    if action == "dismiss":
        sets.append("appealed_from = NULL")
    if to in STAMP and row[STAMP[to]] is None:
        sets.append(f"{STAMP[to]} = ${len(args) + 1}")
        args.append(now)
    updated = await conn.fetchrow(f"UPDATE rectifications SET {', '.join(sets)} WHERE id = $1 RETURNING *", *args)
    if to == "upheld":
        await conn.execute("UPDATE reviews SET excluded = true WHERE id = $1", row["review_id"])
    await conn.execute("INSERT INTO rectification_notes (case_id, at, author, from_state, to_state, note)"
                       " VALUES ($1, $2, $3, $4, $5, $6)", case_id, now, author, row["state"], to, note)
    return Moved(dict(updated), row["state"])


async def add_note(conn: asyncpg.Connection | asyncpg.Pool, case_id: int, author: str, note: str, now_ms: int) -> None:
    if not await conn.fetchval("SELECT 1 FROM rectifications WHERE id = $1", case_id):
        raise CaseError("not_found", f"no rectification case {case_id}")
    await conn.execute("INSERT INTO rectification_notes (case_id, at, author, note) VALUES ($1, $2, $3, $4)",
                       case_id, from_ms(now_ms), author, note)


def public_case(case: dict[str, Any]) -> dict[str, Any]:
    """A case as the API and the stream show it (timestamps in ms)."""
    out: dict[str, Any] = {}
    for k, v in case.items():
        out[k] = int(v.timestamp() * 1000) if isinstance(v, datetime) else v
    out["escalated"] = list(case.get("escalated") or [])
    return out


async def escalate_overdue(pool: asyncpg.Pool, redis: Redis, keys: Keys, maxlen: int, now_ms: int, batch: int = 200) -> int:
    """Emit ``rectification.overdue`` once per overdue stage of each case. Several instances may run
    this: rows are taken with SKIP LOCKED and the stage is recorded in the same transaction."""
    now = from_ms(now_ms)
    emitted = 0
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT * FROM rectifications WHERE state NOT IN ('appealed', 'upheld', 'closed') AND ("
            " (contacted_at IS NULL AND contact_due < $1 AND NOT 'contact' = ANY(escalated)) OR"
            " (verified_at IS NULL AND resolve_due < $1 AND NOT 'resolve' = ANY(escalated)) OR"
            " (rectified_at IS NULL AND rectify_due < $1 AND NOT 'rectify' = ANY(escalated)))"
            " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED", now, batch)
        for row in rows:
            case = dict(row)
            fresh = [s for s in overdue_stages(case, now) if s not in case["escalated"]]
            for stage in fresh:
                due = case[dict((s, d) for s, _, d in STAGES)[stage]]
                await emit(redis, keys, maxlen, case["center"], "rectification.overdue", now_ms, {
                    "case_id": case["id"], "ticket_id": case["ticket_id"], "stage": stage, "state": case["state"],
                    "owner": case["owner"], "staff_id": case["staff_id"], "due_at": int(due.timestamp() * 1000),
                    "window_code": case["window_code"]})
                emitted += 1
            await conn.execute("UPDATE rectifications SET escalated = escalated || $2::text[] WHERE id = $1",
                               case["id"], fresh)
    return emitted
