"""Reports from the record: per day, week or month (or the whole range) and per center, window, staff,
matter, channel or service point (``point``: the ticket's; null for the hall's tickets) — volumes, waits (average, p50, p90 by ``percentile_cont``), service level,
handling times, no-shows, transfers and ratings. The definitions are those of the live figures
(``live.py``): wait = issue → call, handling = start → finish, a ticket counts on the day it was issued.

Staff is who was on duty at the window of the ticket's latest call (from its ``ticket.called``
event); transfers are the ticket's ``ticket.transferred`` events; ratings are residents' own first
ratings (not defaults, not ones an upheld appeal excluded), when the reviews table exists.

Reports by staff (alone or with center and window) add each clerk's time, read from the window
views every ``window.*`` and ``ticket.*`` event carries (the window's state, its staff on duty and
the ticket at it, after the event). Between one event of a window and its next, the window stayed
as the first left it; after its last event, up to the moment of the report. That time belongs to
the staff on duty, split at local midnight of the center's timezone into days:

- **on duty**: the window open or paused with the clerk on it;
- **serving**: open with a ticket at it (called or being served);
- **idle**: open with no ticket at it;
- **paused**: paused, in total and by the reason given (``paused_by_reason``);
- **served** is ``finished`` and **handling** the ``handling_*`` figures of the clerk's tickets, as
  above (``handling_total_s`` is their sum).

A window's state is known from its events of the range and of the day before it: a window left open
with no event for longer than that is not counted. A clerk on duty who served nobody has a row too."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from ..record.exporter import csv_chunks

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "center": ("center",), "window": ("center", "window"), "staff": ("staff",), "matter": ("matter",),
    "channel": ("channel",), "point": ("center", "point"),
}
COLUMN_SQL = {"center": "t.center", "window": "t.window_code", "staff": "st.staff_id", "matter": "t.matter",
              "channel": "t.channel", "point": "t.service_point"}
PERIODS = {"day": "{day}", "week": "date_trunc('week', {day})::date", "month": "date_trunc('month', {day})::date",
           "total": "NULL::date"}
TIMED = frozenset({"center", "window", "staff"})     # dimensions a window's time can be grouped by
STAFF_METRICS = ("staff_name", "on_duty_s", "serving_s", "idle_s", "paused_s", "paused_by_reason")
COUNTS = frozenset({"issued", "finished", "no_shows", "cancelled", "unfinished", "transfers", "called"})
METRICS = ("issued", "finished", "no_shows", "cancelled", "unfinished", "transfers", "called", "wait_avg_s",
           "wait_p50_s", "wait_p90_s", "wait_max_s", "service_level", "handling_avg_s", "handling_p50_s",
           "handling_p90_s", "handling_total_s", "no_show_rate", "rated", "satisfaction_rate", "rating_avg", "bad_reviews")

_SQL = """
WITH t AS (
  SELECT t.id, t.day, t.center, t.window_code, t.matter, t.channel, t.service_point, t.status,
    extract(epoch FROM t.called_at - t.issued_at)::float8 AS wait_s,
    extract(epoch FROM t.finished_at - t.started_at)::float8 AS handling_s
  FROM tickets t
  WHERE t.day BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.center = $3)
), tr AS (
  SELECT e.ticket_id, count(*) AS n FROM events e
  WHERE e.type = 'ticket.transferred' AND e.at >= $4 AND e.at < $5 AND ($3::text IS NULL OR e.center = $3)
  GROUP BY e.ticket_id
){staff_cte}
SELECT {period} AS period{select_cols},
  count(*) AS issued,
  count(*) FILTER (WHERE t.status = 'finished') AS finished,
  count(*) FILTER (WHERE t.status = 'no_show') AS no_shows,
  count(*) FILTER (WHERE t.status = 'cancelled') AS cancelled,
  count(*) FILTER (WHERE t.status NOT IN ('finished', 'no_show', 'cancelled')) AS unfinished,
  coalesce(sum(tr.n), 0)::bigint AS transfers,
  count(t.wait_s) AS called,
  avg(t.wait_s) AS wait_avg_s,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY t.wait_s) AS wait_p50_s,
  percentile_cont(0.9) WITHIN GROUP (ORDER BY t.wait_s) AS wait_p90_s,
  max(t.wait_s) AS wait_max_s,
  count(*) FILTER (WHERE t.wait_s <= $6) AS within_target,
  avg(t.handling_s) AS handling_avg_s,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY t.handling_s) AS handling_p50_s,
  percentile_cont(0.9) WITHIN GROUP (ORDER BY t.handling_s) AS handling_p90_s,
  sum(t.handling_s) AS handling_total_s,
  {ratings}
FROM t LEFT JOIN tr ON tr.ticket_id = t.id{joins}
GROUP BY 1{group_cols} ORDER BY 1{group_cols}
"""

_STAFF_CTE = """, st AS (
  SELECT DISTINCT ON (e.ticket_id) e.ticket_id, e.data->'window'->>'staff_id' AS staff_id FROM events e
  WHERE e.type = 'ticket.called' AND e.at >= $4 AND e.at < $5 AND ($3::text IS NULL OR e.center = $3)
  ORDER BY e.ticket_id, e.stream_ms DESC, e.stream_seq DESC
)"""
_STAFF_TIME_SQL = """
WITH v AS MATERIALIZED (   -- the few fields a span needs, so the window sort does not carry each event's JSON
  SELECT e.center, e.window_code AS win, e.at, e.stream_ms, e.stream_seq, e.data->'window'->>'state' AS state,
    nullif(e.data->'window'->>'staff_id', '') AS staff, coalesce(e.data->'window'->>'current', '') <> '' AS busy,
    e.data->'window'->>'pause_reason' AS pause_reason
  FROM events e
  WHERE e.at >= $1 AND e.at < $2 AND ($3::text IS NULL OR e.center = $3) AND e.window_code IS NOT NULL
    AND jsonb_typeof(e.data->'window') = 'object'
), spans AS (
  SELECT center, win, state, staff, state = 'open' AND busy AS serving,
    CASE WHEN state = 'paused' THEN coalesce(pause_reason, '') END AS reason, at AS start_at,
    coalesce(lead(at) OVER (PARTITION BY center, win ORDER BY stream_ms, stream_seq), $4) AS end_at
  FROM v
), days AS (
  SELECT d::date AS day, d::timestamp AT TIME ZONE $5 AS day_start, (d + interval '1 day')::timestamp AT TIME ZONE $5 AS day_end
  FROM generate_series($6::date, $7::date, interval '1 day') AS d
), parts AS (
  SELECT d.day, s.center, s.win, s.staff, s.state, s.serving, s.reason,
    extract(epoch FROM least(s.end_at, d.day_end) - greatest(s.start_at, d.day_start))::float8 AS secs
  FROM spans s JOIN days d ON s.start_at < d.day_end AND s.end_at > d.day_start
  WHERE s.state IN ('open', 'paused') AND s.staff IS NOT NULL AND s.start_at < s.end_at
), kinds AS (
  SELECT {period} AS period{select_cols}, p.state, p.serving, p.reason, sum(p.secs) AS secs
  FROM parts p GROUP BY 1{group_cols}, p.state, p.serving, p.reason
)
SELECT period{cols},
  sum(secs) AS on_duty_s,
  coalesce(sum(secs) FILTER (WHERE state = 'open' AND serving), 0) AS serving_s,
  coalesce(sum(secs) FILTER (WHERE state = 'open' AND NOT serving), 0) AS idle_s,
  coalesce(sum(secs) FILTER (WHERE state = 'paused'), 0) AS paused_s,
  jsonb_object_agg(reason, secs) FILTER (WHERE state = 'paused') AS paused_by_reason
FROM kinds GROUP BY 1{group_cols} ORDER BY 1{group_cols}
"""
_TIME_COLUMN_SQL = {"center": "p.center", "window": "p.win", "staff": "p.staff"}
_RATINGS = ("count(r.level) AS rated, count(*) FILTER (WHERE r.level >= 4) AS good,"
            " count(*) FILTER (WHERE r.level <= 2) AS bad_reviews, avg(r.level)::float8 AS rating_avg")
_NO_RATINGS = "NULL::bigint AS rated, NULL::bigint AS good, NULL::bigint AS bad_reviews, NULL::float8 AS rating_avg"
_REVIEWS_JOIN = " LEFT JOIN reviews r ON r.ticket_id = t.id AND r.round = 1 AND NOT r.is_default AND NOT r.excluded"


class ReportError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ReportQuery:
    since: date
    until: date
    by: tuple[str, ...] = ("center",)
    period: str = "day"
    center: str | None = None
    target_s: int = 900
    tz: str = "Asia/Shanghai"
    now: datetime | None = None       # a window still open counts up to here (the end of the range if None)

    def __post_init__(self) -> None:
        if self.since > self.until:
            raise ReportError("since", "must be on or before until")
        if self.period not in PERIODS:
            raise ReportError("period", f"one of {', '.join(PERIODS)}")
        bad = [b for b in self.by if b not in DIMENSIONS]
        if bad or len(set(self.by)) != len(self.by):
            raise ReportError("by", f"distinct names among {', '.join(DIMENSIONS)}")

    @property
    def columns(self) -> tuple[str, ...]:
        """The grouping columns of a row, in order (``window`` brings its center along)."""
        out: list[str] = []
        for b in self.by:
            out += [c for c in DIMENSIONS[b] if c not in out]
        return tuple(out)

    @property
    def timed(self) -> bool:
        """Whether the rows carry each clerk's time: by staff, alone or with center and window."""
        return "staff" in self.by and set(self.by) <= TIMED

    @property
    def header(self) -> tuple[str, ...]:
        return ("period", *self.columns, *METRICS, *(STAFF_METRICS if self.timed else ()))

    def day_span(self) -> tuple[datetime, datetime]:
        """From the first day's local midnight to the end of the last day."""
        zone = ZoneInfo(self.tz)
        start = datetime(self.since.year, self.since.month, self.since.day, tzinfo=zone)
        end = datetime(self.until.year, self.until.month, self.until.day, tzinfo=zone) + timedelta(days=1)
        return start, end

    def event_span(self) -> tuple[datetime, datetime]:
        """Where the events of these days' tickets lie: from the first day's local midnight to two days
        after the last (a ticket may be called or transferred after its day's midnight)."""
        zone = ZoneInfo(self.tz)
        start = datetime(self.since.year, self.since.month, self.since.day, tzinfo=zone)
        end = datetime(self.until.year, self.until.month, self.until.day, tzinfo=zone) + timedelta(days=2)
        return start, end


async def _has_reviews(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass('reviews') IS NOT NULL"))


def _sql(q: ReportQuery, with_reviews: bool) -> str:
    cols = q.columns
    select_cols = "".join(f", {COLUMN_SQL[c]} AS {c}" for c in cols)
    joins = (" LEFT JOIN st ON st.ticket_id = t.id" if "staff" in cols else "") + (_REVIEWS_JOIN if with_reviews else "")
    return _SQL.format(staff_cte=_STAFF_CTE if "staff" in cols else "", period=PERIODS[q.period].format(day="t.day"),
                       select_cols=select_cols,
                       ratings=_RATINGS if with_reviews else _NO_RATINGS, joins=joins,
                       group_cols="".join(f", {i + 2}" for i in range(len(cols))))


def _args(q: ReportQuery) -> tuple[Any, ...]:
    start, end = q.event_span()
    return q.since, q.until, q.center, start, end, float(q.target_s)


def _seconds(v: float | None) -> float | None:
    return round(float(v), 1) if v is not None else None


def _rate(part: int | None, whole: int | None) -> float | None:
    return round(part / whole, 4) if part is not None and whole else None


def shape(r: asyncpg.Record | dict[str, Any], q: ReportQuery) -> dict[str, Any]:
    """One result row as the report's figures, named as in ``q.header`` (without the staff's time)."""
    out: dict[str, Any] = {"period": r["period"].isoformat() if r["period"] is not None else None}
    out.update({c: r[c] for c in q.columns})
    out.update({k: r[k] for k in ("issued", "finished", "no_shows", "cancelled", "unfinished", "transfers", "called")})
    for k in ("wait_avg_s", "wait_p50_s", "wait_p90_s", "wait_max_s", "handling_avg_s", "handling_p50_s", "handling_p90_s",
              "handling_total_s"):
        out[k] = _seconds(r[k])
    out["service_level"] = _rate(r["within_target"], r["called"])
    out["no_show_rate"] = _rate(r["no_shows"], r["finished"] + r["no_shows"])
    out["rated"] = r["rated"]
    out["satisfaction_rate"] = _rate(r["good"], r["rated"])
    out["rating_avg"] = round(r["rating_avg"], 2) if r["rating_avg"] is not None else None
    out["bad_reviews"] = r["bad_reviews"]
    return {k: out[k] for k in ("period", *q.columns, *METRICS)}


async def staff_time(conn: asyncpg.Connection, q: ReportQuery) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Each clerk's time on duty, serving, idle and paused (by reason) per period, keyed like the
    report's rows (period, then the grouping columns); definitions in the module's docstring."""
    cols = q.columns
    start, end = q.day_span()
    until = min(end, q.now) if q.now is not None else end
    sql = _STAFF_TIME_SQL.format(
        period=PERIODS[q.period].format(day="p.day"), select_cols="".join(f", {_TIME_COLUMN_SQL[c]} AS {c}" for c in cols),
        cols="".join(f', "{c}"' for c in cols), group_cols="".join(f", {i + 2}" for i in range(len(cols))))
    rows = await conn.fetch(sql, start - timedelta(days=1), until, q.center, until, q.tz, q.since, q.until)
    names = dict(await conn.fetch("SELECT id, name FROM staff WHERE id = ANY($1::text[])",
                                  list({r["staff"] for r in rows})))
    out = {}
    for r in rows:
        reasons = orjson.loads(r["paused_by_reason"]) if r["paused_by_reason"] else {}
        out[(r["period"].isoformat() if r["period"] is not None else None, *(r[c] for c in cols))] = {
            "staff_name": names.get(r["staff"]), "on_duty_s": _seconds(r["on_duty_s"]), "serving_s": _seconds(r["serving_s"]),
            "idle_s": _seconds(r["idle_s"]), "paused_s": _seconds(r["paused_s"]),
            "paused_by_reason": {k: _seconds(v) for k, v in sorted(reasons.items())}}
    return out


def _with_staff_time(rows: list[dict[str, Any]], times: dict[tuple[Any, ...], dict[str, Any]],
                     q: ReportQuery) -> list[dict[str, Any]]:
    """The ticket rows with each clerk's time beside them, and a row for a clerk on duty who served
    nobody (no ticket figures), in the report's order."""
    by_key = {(r["period"], *(r[c] for c in q.columns)): r for r in rows}
    for key in times.keys() - by_key.keys():
        by_key[key] = {"period": key[0], **dict(zip(q.columns, key[1:])),
                       **{m: 0 if m in COUNTS else None for m in METRICS}}
    no_time = dict.fromkeys(STAFF_METRICS)
    return [{**by_key[key], **times.get(key, no_time)}
            for key in sorted(by_key, key=lambda k: tuple((v is None, v or "") for v in k))]


async def report(conn: asyncpg.Connection, q: ReportQuery) -> list[dict[str, Any]]:
    rows = [shape(r, q) for r in await conn.fetch(_sql(q, await _has_reviews(conn)), *_args(q))]
    return _with_staff_time(rows, await staff_time(conn, q), q) if q.timed else rows


def _csv_value(v: Any) -> Any:
    """A report value as a CSV cell: the pause reasons as ``reason: seconds; ...``."""
    return "; ".join(f"{k}: {s}" for k, s in v.items()) if isinstance(v, dict) else v


async def report_rows(conn: asyncpg.Connection, q: ReportQuery) -> AsyncIterator[list[Any]]:
    """The report's rows as CSV values in ``q.header`` order, from a server-side cursor (needs an open
    transaction): a report by window and day over years streams like the ticket export. Reports
    with the staff's time (a row per clerk and day at most) are put together first."""
    if q.timed:
        for row in await report(conn, q):
            yield [_csv_value(row[k]) for k in q.header]
        return
    sql = _sql(q, await _has_reviews(conn))
    async for r in conn.cursor(sql, *_args(q), prefetch=500):
        row = shape(r, q)
        yield [row[k] for k in q.header]


async def write_report(database_url: str, q: ReportQuery, out: TextIO, fmt: str = "csv", bom: bool = True) -> int:
    """The report to ``out`` as CSV (streamed) or JSON; returns the number of rows."""
    conn = await asyncpg.connect(database_url)
    n = 0
    try:
        if fmt == "json":
            rows = await report(conn, q)
            out.write(orjson.dumps({"since": q.since.isoformat(), "until": q.until.isoformat(), "period": q.period,
                                    "by": list(q.by), "center": q.center, "service_level_target_s": q.target_s,
                                    "rows": rows}, option=orjson.OPT_INDENT_2).decode() + "\n")
            return len(rows)
        async with conn.transaction():
            async def counted() -> AsyncIterator[list[Any]]:
                nonlocal n
                async for row in report_rows(conn, q):
                    n += 1
                    yield row
            async for chunk in csv_chunks(q.header, counted(), bom=bom):
                out.write(chunk)
    finally:
        await conn.close()
    return n
