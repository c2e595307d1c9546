"""HTTP side of ops: the live figures as JSON, reports as JSON or streamed CSV, the ticket export,
Prometheus metrics, and the dashboard page."""
from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from displays.component import PAGE_HEADERS

from ..api.auth import bearer, principal
from ..api.endpoints import Endpoints, json
from ..api.problems import Problem
from ..api.tickets import limit_outsider
from ..clock import from_ms
from ..record.exporter import COLUMNS, csv_chunks, ticket_rows
from .live import local_day
from .metrics import exposition
from .reports import ReportError, ReportQuery, report, report_rows
from .schemas import LiveFigures, Report
from .scope import ScopeError, ops_scope

api = Endpoints("ops")
PAGE = Path(__file__).resolve().parent.parent.parent / "displays" / "dashboard.html"
MAX_DAYS = 3660


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "Invalid request", f"{field}: {message}", errors=[{"field": field, "message": message}])


async def _scope(request: Request, devices: bool) -> str | None:
    who = await principal(request)
    assert who is not None
    if who.role == "device":
        limit_outsider(request, who)
    try:
        return ops_scope(who, request.query_params.get("center") or None, request.app.state.engine.catalog.centers, devices)
    except ScopeError as exc:
        raise Problem(exc.status, "Not found" if exc.status == 404 else "Forbidden", exc.message) from None


CENTER = "a center's code: only that center"
DAYS = {"since": "first day, YYYY-MM-DD (today by default)", "until": "last day, YYYY-MM-DD (today by default)"}
REPORT_QUERY = {"center": CENTER, **DAYS, "by": "comma-separated: center, window, staff, matter, channel, point",
                "period": "day, week, month or total"}


def _days(request: Request) -> tuple[date, date]:
    state = request.app.state
    today = local_day(state.clock.now_ms(), state.settings.timezone)
    days = []
    for name in ("since", "until"):
        raw = request.query_params.get(name) or f"{today[:4]}-{today[4:6]}-{today[6:]}"
        try:
            days.append(date.fromisoformat(raw))
        except ValueError:
            raise _invalid(name, "a date like 2026-11-30") from None
    if days[0] > days[1]:
        raise _invalid("since", "must be on or before until")
    if days[1] - days[0] > timedelta(days=MAX_DAYS):
        raise _invalid("since", f"at most {MAX_DAYS} days before until")
    return days[0], days[1]


async def _report_query(request: Request) -> ReportQuery:
    center = await _scope(request, devices=False)
    since, until = _days(request)
    q = request.query_params
    by = tuple(b.strip() for b in q.get("by", "center").split(",") if b.strip())
    try:
        return ReportQuery(since, until, by, q.get("period", "day"), center, request.app.state.ops.config.service_level_s,
                           request.app.state.settings.timezone, from_ms(request.app.state.clock.now_ms()))
    except ReportError as exc:
        raise _invalid(exc.field, exc.message) from None


def _csv(request: Request, name: str, header: tuple[str, ...],
         rows: Callable[[asyncpg.Connection], AsyncIterator[Sequence[Any]]]) -> StreamingResponse:
    """Stream CSV from a server-side cursor held for the length of the response."""
    pool = request.app.state.pool

    async def body() -> AsyncIterator[bytes]:
        async with pool.acquire() as conn, conn.transaction():
            async for chunk in csv_chunks(header, rows(conn)):
                yield chunk.encode("utf-8")

    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@api("GET", "/api/v1/ops/figures", "Live figures: every center and the district, or one center (?center=)",
     response=LiveFigures, responses={403: "a token of another center or kind", 404: "unknown center"},
     query={"center": CENTER})
async def figures(request: Request) -> Response:
    center = await _scope(request, devices=True)
    state = request.app.state
    await state.ops.fresh(center)
    now = state.clock.now_ms()
    return json({"now": now, **state.ops.figures.all(now, only=center)})


@api("GET", "/api/v1/ops/reports",
     "Report from the record: ?since=&until=&by=center,window,staff,matter,channel,point&period=day|week|month|total&center=",
     response=Report, responses={403: "a token of another center or kind", 404: "unknown center", 422: "bad query parameter"},
     query=REPORT_QUERY)
async def reports(request: Request) -> Response:
    q = await _report_query(request)
    async with request.app.state.pool.acquire() as conn:
        rows = await report(conn, q)
    return json({"since": q.since.isoformat(), "until": q.until.isoformat(), "period": q.period, "by": list(q.by),
                 "center": q.center, "service_level_target_s": q.target_s, "rows": rows})


@api("GET", "/api/v1/ops/reports.csv", "The same report as streamed CSV (UTF-8 with BOM, for Excel)",
     responses={403: "a token of another center or kind", 404: "unknown center", 422: "bad query parameter"},
     query=REPORT_QUERY)
async def reports_csv(request: Request) -> Response:
    q = await _report_query(request)
    name = f"report-{q.period}-{'-'.join(q.by) or 'all'}-{q.since}-{q.until}.csv"
    return _csv(request, name, q.header, lambda conn: report_rows(conn, q))


@api("GET", "/api/v1/ops/tickets.csv", "Every ticket of ?since=&until= (&center=) as streamed CSV, phones masked",
     responses={403: "a token of another center or kind", 404: "unknown center", 422: "bad query parameter"},
     query={"center": CENTER, **DAYS})
async def tickets_csv(request: Request) -> Response:
    center = await _scope(request, devices=False)
    since, until = _days(request)
    return _csv(request, f"tickets-{center or 'district'}-{since}-{until}.csv", COLUMNS,
                lambda conn: ticket_rows(conn, since, until, center, request.app.state.personal))


@api("GET", "/metrics", "Prometheus metrics (text exposition format): the scraper's QUEUE_METRICS_TOKEN or the admin token",
     responses={401: "no token, or not a valid one", 403: "a token other than the admin's"})
async def metrics(request: Request) -> Response:
    """The figures of every center: for the scraper's own token (so Prometheus never holds the
    admin's) or the admin; no center-bound token sees them."""
    scraper = request.app.state.settings.metrics_token
    token = bearer(request)
    if not (scraper and token and hmac.compare_digest(token.encode(), scraper.encode())):
        who = await principal(request)
        if who is None or who.role != "admin":
            raise Problem(403, "Forbidden", "metrics cover every center: the scraper's token or the admin's")
    await request.app.state.ops.refresh_metrics()
    return Response(await exposition(request.app.state.ops.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def dashboard(request: Request) -> Response:
    return FileResponse(PAGE, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
