"""Satisfaction figures per center, window, staff, matter and day, from the served tickets, their
ratings and the cases bad ones opened. The definitions (each rate is null when its base is 0):

- ``served``: finished tickets. ``rated``: residents' own first ratings (not a default, not a review
  an upheld appeal found malicious — those count in ``excluded``). ``pending``: not rated, still
  within the rating period.
- ``satisfaction_rate`` (好评率): ratings 4-5 / rated.
- ``proactive``: rated before any SMS prompt for the ticket was sent — on the window's tablet or a
  web link opened unprompted; after an SMS prompt (an SMS reply, or the link in it) is ``prompted``.
  ``proactive_share`` = proactive / rated; ``proactive_satisfaction_rate`` (主动评价好评率) = 4-5
  among proactive.
- ``unrated``: the rating period ended without a rating; ``unrated_share`` (未评率) = unrated / served.
- ``defaults``: configured default levels applied to unrated tickets, always apart: ``count``,
  ``good`` and ``satisfaction_rate_with_defaults`` = (good + default good) / (rated + defaults).
- ``bad``: ratings 1-2. ``reply_rate`` (差评回复率) = bad whose resident was contacted / bad;
  ``rectification_rate`` (回访整改率) = bad rectified / bad; ``on_time_rate`` = bad whose every stage
  due so far was done by its working-day deadline / bad.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from queue_server.clock import from_ms

GROUPS = {"center": "s.center", "window": "s.window_code", "staff": "s.staff_id", "matter": "s.matter", "day": "s.day"}

_LATE = ("(coalesce(c.{done} > c.{due}, false)"
         " OR (c.{done} IS NULL AND c.state NOT IN ('appealed', 'upheld', 'closed') AND $4 > c.{due}))")
_ON_TIME = " AND ".join("NOT " + _LATE.format(done=d, due=u) for d, u in
                        (("contacted_at", "contact_due"), ("verified_at", "resolve_due"), ("rectified_at", "rectify_due")))

_SQL = """
WITH base AS (
  SELECT {select_groups},
    r.id IS NOT NULL AND NOT r.is_default AND NOT r.excluded AS rated,
    r.level, r.prompted, r.is_default, coalesce(r.excluded, false) AS excluded,
    s.unrated_at IS NOT NULL AND (r.id IS NULL OR r.is_default) AS unrated,
    r.id IS NULL AND s.unrated_at IS NULL AS pending,
    c.id AS case_id, c.contacted_at, c.rectified_at,
    c.id IS NOT NULL AND {on_time} AS on_time
  FROM eval_served s
  LEFT JOIN reviews r ON r.ticket_id = s.ticket_id AND r.round = 1
  LEFT JOIN rectifications c ON c.review_id = r.id
  WHERE s.day BETWEEN $1 AND $2 AND ($3::text IS NULL OR s.center = $3)
)
SELECT {groups},
  count(*) AS served,
  count(*) FILTER (WHERE rated) AS rated,
  count(*) FILTER (WHERE rated AND level >= 4) AS good,
  count(*) FILTER (WHERE rated AND NOT prompted) AS proactive,
  count(*) FILTER (WHERE rated AND NOT prompted AND level >= 4) AS proactive_good,
  count(*) FILTER (WHERE rated AND prompted) AS prompted,
  count(*) FILTER (WHERE pending) AS pending,
  count(*) FILTER (WHERE unrated) AS unrated,
  count(*) FILTER (WHERE is_default) AS defaults,
  count(*) FILTER (WHERE is_default AND level >= 4) AS default_good,
  count(*) FILTER (WHERE excluded) AS excluded,
  count(*) FILTER (WHERE rated AND level <= 2) AS bad,
  count(*) FILTER (WHERE rated AND level <= 2 AND contacted_at IS NOT NULL) AS replied,
  count(*) FILTER (WHERE rated AND level <= 2 AND rectified_at IS NOT NULL) AS rectified,
  count(*) FILTER (WHERE rated AND level <= 2 AND on_time) AS on_time,
  {levels}
FROM base GROUP BY {groups} ORDER BY {groups}
"""


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def shape(row: dict[str, Any], groups: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {g: (row[g].isoformat() if isinstance(row[g], date) else row[g]) for g in groups}
    rated, bad = row["rated"], row["bad"]
    out.update({
        "served": row["served"], "rated": rated, "pending": row["pending"], "unrated": row["unrated"],
        "levels": {str(n): row[f"level_{n}"] for n in range(1, 6)},
        "satisfaction_rate": rate(row["good"], rated),
        "proactive": row["proactive"], "prompted": row["prompted"],
        "proactive_share": rate(row["proactive"], rated),
        "proactive_satisfaction_rate": rate(row["proactive_good"], row["proactive"]),
        "unrated_share": rate(row["unrated"], row["served"]),
        "defaults": {"count": row["defaults"], "good": row["default_good"],
                     "satisfaction_rate_with_defaults": rate(row["good"] + row["default_good"], rated + row["defaults"])},
        "excluded": row["excluded"],
        "bad": bad, "replied": row["replied"], "rectified": row["rectified"], "on_time": row["on_time"],
        "reply_rate": rate(row["replied"], bad), "rectification_rate": rate(row["rectified"], bad),
        "on_time_rate": rate(row["on_time"], bad),
    })
    return out


async def figures(pool: asyncpg.Pool, since: date, until: date, center: str | None, groups: list[str],
                  now_ms: int) -> list[dict[str, Any]]:
    """One row per combination of ``groups`` (names from GROUPS) over the service days given."""
    if not groups or any(g not in GROUPS for g in groups):
        raise ValueError(f"group by one or more of {', '.join(GROUPS)}")
    sql = _SQL.format(
        select_groups=", ".join(f'{GROUPS[g]} AS "{g}"' for g in groups), groups=", ".join(f'"{g}"' for g in groups),
        on_time=_ON_TIME,
        levels=", ".join(f"count(*) FILTER (WHERE rated AND level = {n}) AS level_{n}" for n in range(1, 6)))
    now = from_ms(now_ms)
    rows = await pool.fetch(sql, since, until, center, now)
    return [shape(dict(r), groups) for r in rows]
