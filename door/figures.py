"""The door-to-door figures for the dashboard and the reports: cases by stage, the median days from
discovery to the visit and to the last approval, and the residents' satisfaction with the service."""
from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from evaluation.levels import is_good
from queue_server.domain.door import STAGES, median_days


async def figures(pool: asyncpg.Pool, center: str | None, since: date, until: date, tz: str, today: date) -> dict[str, Any]:
    """Over the cases discovered from ``since`` to ``until`` (local days, both included), and the
    ratings given in that time; ``overdue`` counts what is overdue today."""
    span = ("($1::text IS NULL OR center = $1) AND (discovered_at AT TIME ZONE $4)::date BETWEEN $2 AND $3")
    by_stage = {str(s): 0 for s in STAGES}
    for r in await pool.fetch(f"SELECT stage, count(*) AS n FROM door_cases WHERE {span} GROUP BY stage",
                              center, since, until, tz):
        by_stage[r["stage"]] = r["n"]
    spans = await pool.fetch(
        "SELECT (extract(epoch FROM visited_at - discovered_at) * 1000)::bigint AS to_visit,"
        " (extract(epoch FROM approvals_done_at - discovered_at) * 1000)::bigint AS to_approval"
        f" FROM door_cases WHERE {span}", center, since, until, tz)
    levels = [r["level"] for r in await pool.fetch(
        "SELECT r.level FROM reviews r JOIN eval_served s ON s.ticket_id = r.ticket_id"
        " WHERE s.ticket_id LIKE '%-door-%' AND r.round = 1 AND NOT r.excluded AND NOT r.is_default"
        " AND ($1::text IS NULL OR s.center = $1) AND (r.rated_at AT TIME ZONE $4)::date BETWEEN $2 AND $3",
        center, since, until, tz)]
    overdue = await pool.fetchval(
        "SELECT count(DISTINCT c.id) FROM door_cases c JOIN door_case_matters m ON m.case_id = c.id"
        " WHERE ($1::text IS NULL OR c.center = $1) AND c.stage = 'tracking'"
        " AND m.approval IN ('submitted', 'in_review') AND m.expected_by < $2", center, today)
    good = sum(1 for level in levels if is_good(level))
    return {
        "center": center, "since": since.isoformat(), "until": until.isoformat(), "by_stage": by_stage,
        "cases": sum(by_stage.values()), "overdue": overdue,
        "median_days_to_visit": median_days([r["to_visit"] for r in spans if r["to_visit"] is not None]),
        "median_days_to_approval": median_days([r["to_approval"] for r in spans if r["to_approval"] is not None]),
        "satisfaction": {"rated": len(levels), "good": good,
                         "good_rate": round(good / len(levels), 4) if levels else None,
                         "average": round(sum(levels) / len(levels), 2) if levels else None},
    }
