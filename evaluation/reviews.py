"""Recording a rating: one per served ticket (plus the one follow-up after a rectified bad review),
in one transaction with the web link it uses up and the case a bad review opens; the events go on
the center's stream after the commit."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from redis.asyncio import Redis

from queue_server.clock import from_ms
from queue_server.domain.calendar import Calendar
from queue_server.engine.keys import Keys
from queue_server.record.pooled import fetchrow

from . import links
from .config import EvalConfig
from .events import emit_all
from .levels import Reason, is_bad
from .rectification import deadlines
from .served import Served, from_row, lookup


class ReviewError(Exception):
    """A refused rating; ``code`` is stable: already_rated, link_used, too_late, no_followup, ..."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class NewReview:
    level: int
    channel: str  # tablet | sms | web | default
    reasons: list[Reason] = field(default_factory=list)
    comment: str = ""
    round: int = 1
    is_default: bool = False


@dataclass(frozen=True)
class Recorded:
    review: dict[str, Any]
    case_id: int | None


async def _followup_case(conn: asyncpg.Connection, ticket_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT c.* FROM rectifications c JOIN reviews r ON r.id = c.review_id"
        " WHERE r.ticket_id = $1 AND r.round = 1 AND c.state = 'rectified' FOR UPDATE OF c", ticket_id)


async def write(conn: asyncpg.Connection, cfg: EvalConfig, tz: str, calendar: Calendar, ticket_id: str, new: NewReview,
                now_ms: int, link_token: str | None = None) -> Recorded:
    """Record a rating in the caller's transaction; ``announce`` it once that commits."""
    now = from_ms(now_ms)
    served = await lookup(conn, ticket_id, lock=True)  # serialises with the unrated sweep
    if served is None:
        raise ReviewError("not_found", f"ticket {ticket_id!r} was not served")
    if new.round == 1 and served.unrated:
        raise ReviewError("too_late", "the rating period for this ticket has ended")
    if link_token is not None and await links.consume(conn, link_token, ticket_id, now) is None:
        raise ReviewError("link_used", "this review link was already used or has expired")
    followup = await _followup_case(conn, ticket_id) if new.round == 2 else None
    if new.round == 2 and followup is None:
        raise ReviewError("no_followup", "a follow-up rating needs a rectified bad review")
    rec = await insert(conn, ticket_id, new, now_ms, cfg, tz, calendar)
    if rec is None:   # cannot happen: the row is locked above and its unrated mark checked
        raise ReviewError("too_late", "the rating period for this ticket has ended")
    if followup is not None:
        await conn.execute("UPDATE rectifications SET followup_review_id = $2, state = 'closed', closed_at = $3"
                           " WHERE id = $1", followup["id"], rec.review["id"], now)
        await conn.execute("INSERT INTO rectification_notes (case_id, at, author, from_state, to_state, note)"
                           " VALUES ($1, $2, 'resident', 'rectified', 'closed', $3)",
                           followup["id"], now, f"follow-up rating {new.level}")
        return Recorded(rec.review, followup["id"])
    return rec


# A rating in one statement: the served row locked (a first rating only while not marked unrated;
# a tablet's only of a ticket served at its window lately), the review inserted once per round, the
# SMS prompts still queued for that round skipped, and for a resident's bad first rating the
# rectification case opened with its first note. The served row's columns come back: NULL when it
# is missing, unrated or not the tablet's; ``id`` NULL: already rated. ``$14`` is the transaction's
# synchronous_commit (``commit_mode``), set in the statement to cost no round trip. In parts, for a
# statement that records a rating with more (an SMS reply's, ``sms/inbound.py``): the CTEs, where
# the served ticket is ``$1`` or what the caller's own first CTE finds, and the row.
def rate_with(ticket: str = "$1") -> str:
    return (
        f"s AS (SELECT * FROM eval_served WHERE ticket_id = {ticket} AND (unrated_at IS NULL OR $2 = 2)"
        "   AND ($15::text IS NULL OR (center = $15 AND window_code = $16 AND finished_at >= $17)) FOR UPDATE),"
        " rated AS (INSERT INTO reviews (ticket_id, round, level, channel, is_default, prompted, reasons, comment, rated_at)"
        "   SELECT s.ticket_id, $2, $3, $4, $5, $4 = 'sms' OR EXISTS (SELECT 1 FROM sms_messages m"
        "     WHERE m.ticket_id = s.ticket_id AND m.kind IN ('prompt', 'reminder') AND m.state = 'sent'"
        "     AND m.sent_at <= $8), $6, $7, $8 FROM s"
        "   ON CONFLICT (ticket_id, round) DO NOTHING RETURNING *),"
        " skipped AS (UPDATE sms_messages SET state = 'skipped' WHERE ticket_id IN (SELECT ticket_id FROM rated)"
        "   AND state = 'queued' AND kind = ANY($9::text[])),"
        " opened AS (INSERT INTO rectifications (review_id, ticket_id, center, window_code, staff_id, owner, opened_at,"
        "     contact_due, resolve_due, rectify_due)"
        "   SELECT rated.id, s.ticket_id, s.center, s.window_code, s.staff_id, 'manager:' || s.center, $8, $10, $11, $12"
        "   FROM rated, s WHERE $13 RETURNING id),"
        " noted AS (INSERT INTO rectification_notes (case_id, at, author, to_state, note)"
        "   SELECT id, $8, 'system', 'open', 'opened by a bad review' FROM opened)")


RATE_ROW = (
    " SELECT (SELECT id FROM opened) AS case_id, set_config('synchronous_commit', $14, true) AS commit_mode,"
    " s.center, s.window_code, s.staff_id, s.matter, s.day, s.finished_at, s.has_phone, s.unrated_at, rated.*")
RATE_FROM = " FROM (SELECT 1) AS one LEFT JOIN s ON true LEFT JOIN rated ON true"
_RATE = "WITH " + rate_with() + RATE_ROW + RATE_FROM


@dataclass(frozen=True, slots=True)
class AtWindow:
    """A tablet's rating: only of a ticket served at its window and finished since ``since_ms``."""
    center: str
    window: str
    since_ms: int


async def insert(conn: asyncpg.Connection | asyncpg.Pool, ticket_id: str, new: NewReview, now_ms: int, cfg: EvalConfig,
                 tz: str, calendar: Calendar, at: AtWindow | None = None) -> Recorded | None:
    """The statement above: in the caller's transaction for the general way (``write``), or on the
    pool, as its own transaction, for a first rating (``is_first``) — most ratings, which at the
    city's peak queued for connections for seconds when they held one across several round trips.
    None when the served row is missing, was marked unrated or is not ``at`` the tablet's window
    lately: the general way then says why."""
    row = await fetchrow(conn, _RATE, ticket_id, *rate_args(new, now_ms, cfg, tz, calendar, at))
    if row["center"] is None:
        return None
    if row["id"] is None:
        raise ReviewError("already_rated", "this ticket has already been rated")
    return recorded_from(row)


def rate_args(new: NewReview, now_ms: int, cfg: EvalConfig, tz: str, calendar: Calendar,
              at: AtWindow | None = None) -> list[Any]:
    """The rating statement's $2–$17 (``rate_with``)."""
    now = from_ms(now_ms)
    opens_case = new.round == 1 and is_bad(new.level) and not new.is_default
    return [new.round, new.level, new.channel, new.is_default, [str(r) for r in new.reasons], new.comment, now,
            ["prompt", "reminder"] if new.round == 1 else ["followup"],
            *(deadlines(now, cfg, tz, calendar) if opens_case else (None, None, None)), opens_case,
            commit_mode(cfg), *((at.center, at.window, from_ms(at.since_ms)) if at else (None,) * 3)]


def recorded_from(row: asyncpg.Record) -> Recorded:
    """The rating a statement built on ``rate_with`` and ``RATE_ROW`` inserted (its ``id`` not NULL)."""
    return Recorded(public_review(dict(row), from_row(row)), row["case_id"])


def commit_mode(cfg: EvalConfig) -> str:
    """``synchronous_commit`` for a transaction recording a rating (see ``EvalConfig.commit_waits_for_flush``)."""
    return "on" if cfg.commit_waits_for_flush else "off"


def is_first(new: NewReview, link_token: str | None) -> bool:
    """A resident's first rating without a link: most ratings, bad ones included."""
    return new.round == 1 and link_token is None and not new.is_default


async def announce(redis: Redis, keys: Keys, maxlen: int, recorded: list[tuple[Recorded, int]]) -> None:
    """Each rating's ``review.recorded``, and ``review.bad`` with the case a bad one opened, in one
    round trip; ``recorded`` as (rating, when it was recorded)."""
    events: list[tuple[str, str, int, dict[str, Any]]] = []
    for rec, now_ms in recorded:
        r = rec.review
        common = {"review": r, "ticket_id": r["ticket_id"], "window_code": r["window"], "staff_id": r["staff_id"]}
        events.append((r["center"], "review.recorded", now_ms, common))
        if r["bad"] and r["round"] == 1 and rec.case_id is not None:
            events.append((r["center"], "review.bad", now_ms, {**common, "case_id": rec.case_id}))
    await emit_all(redis, keys, maxlen, events)


def public_review(row: dict[str, Any], served: Served) -> dict[str, Any]:
    return {"id": row["id"], "ticket_id": row["ticket_id"], "round": row["round"], "level": row["level"],
            "channel": row["channel"], "is_default": row["is_default"], "prompted": row["prompted"],
            "reasons": list(row["reasons"]), "comment": row["comment"],
            "rated_at": int(row["rated_at"].timestamp() * 1000), "center": served.center, "window": served.window,
            "staff_id": served.staff_id, "matter": served.matter, "bad": is_bad(row["level"])}
