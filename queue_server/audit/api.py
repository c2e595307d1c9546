"""Reading the audit log: a page of entries as JSON with filters and a cursor, the same as streamed
CSV for Excel, and the auditor's page. Who reads what: the district admin and a district auditor
the whole log; a center's manager or auditor their center's entries only."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from displays.component import PAGE_HEADERS

from ..api.auth import principal
from ..api.endpoints import Endpoints, json
from ..api.problems import Problem
from ..record.exporter import LOCAL_TIME, csv_chunks
from ..record.people import Principal
from .schemas import AuditPage

api = Endpoints("audit")
PAGE = Path(__file__).resolve().parent.parent.parent / "displays" / "audit.html"
READERS = {"admin", "auditor", "manager"}
MAX_LIMIT = 500
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
YEARS = (2000, 2200)   # what a filter or a cursor may name: PostgreSQL and Python agree on every moment in it
CSV_HEADER = ("time (Asia/Shanghai) 时间", "role 角色", "actor 操作人", "credential 凭据", "center 中心", "window 窗口",
              "action 操作", "target 对象", "outcome 结果", "address 地址", "user agent 终端")


def reader_scope(who: Principal, asked: str | None) -> str | None:
    """The center ``who`` may read the log of (None: every center); refuses the others."""
    if who.role not in READERS:
        raise Problem(403, "Forbidden", f"a {who.role} token may not read the audit log")
    if who.role == "admin" or (who.role == "auditor" and who.center is None):
        return asked
    if asked is not None and asked != who.center:
        raise Problem(403, "Forbidden", "the token belongs to another center")
    return who.center


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "Invalid request", f"{field}: {message}", errors=[{"field": field, "message": message}])


def _moment(field: str, raw: str, tz: ZoneInfo, end: bool) -> datetime:
    """A date (the whole local day: from its start, or to the next day's start) or a date-time
    (local if it has no offset)."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _invalid(field, "a date like 2026-11-30 or a time like 2026-11-30T09:30:00+08:00") from None
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise _invalid(field, f"a year from {YEARS[0]} to {YEARS[1]}")
    if len(raw) == 10:
        day = date.fromisoformat(raw)
        return datetime.combine(day + timedelta(days=1) if end else day, time(), tz)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


@dataclass(frozen=True)
class Query:
    center: str | None
    actor: str | None
    role: str | None
    action: str | None
    outcome: str | None        # "ok" (< 400) or "refused" (>= 400)
    since: datetime | None
    until: datetime | None
    after: tuple[datetime, int] | None   # the cursor: entries older than this one

    def where(self) -> tuple[str, list[Any]]:
        clauses, args = [], []

        def add(sql: str, value: Any) -> None:
            args.append(value)
            clauses.append(sql.replace("?", f"${len(args)}"))

        if self.center:
            add("center = ?", self.center)
        if self.actor:
            add("actor = ?", self.actor)
        if self.role:
            add("role = ?", self.role)
        if self.action:
            add("action ILIKE ?", "%" + self.action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if self.outcome:
            clauses.append("outcome < 400" if self.outcome == "ok" else "outcome >= 400")
        if self.since:
            add("at >= ?", self.since)
        if self.until:
            add("at < ?", self.until)
        if self.after:
            args.extend(self.after)
            clauses.append(f"(at, id) < (${len(args) - 1}, ${len(args)})")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


async def _query(request: Request) -> tuple[Query, ZoneInfo]:
    who = await principal(request)
    assert who is not None
    q = request.query_params
    tz = ZoneInfo(request.app.state.settings.timezone)
    for name in ("center", "actor", "role", "action", "outcome", "since", "until", "cursor"):
        if len(q.get(name, "")) > 100 or "\x00" in q.get(name, ""):
            raise _invalid(name, "at most 100 characters, no NUL")
    asked = q.get("center") or None
    if asked is not None and asked not in request.app.state.engine.catalog.centers:
        raise Problem(404, "Not found", f"unknown center {asked!r}")
    center = reader_scope(who, asked)
    outcome = q.get("outcome") or None
    if outcome not in (None, "ok", "refused"):
        raise _invalid("outcome", "ok or refused")
    since = _moment("since", q["since"], tz, False) if q.get("since") else None
    until = _moment("until", q["until"], tz, True) if q.get("until") else None
    if since and until and since >= until:
        raise _invalid("since", "must be before until")
    after = None
    if q.get("cursor"):
        ms, _, ident = q["cursor"].partition(".")
        if not (ms.isascii() and ms.isdigit() and ident.isascii() and ident.isdigit()) or len(ms) > 17 or len(ident) > 18:
            raise _invalid("cursor", "the next_cursor of a previous page")
        after = (EPOCH + timedelta(microseconds=int(ms)), int(ident))
        if not YEARS[0] <= after[0].year <= YEARS[1]:
            raise _invalid("cursor", "the next_cursor of a previous page")
    return Query(center, q.get("actor") or None, q.get("role") or None, q.get("action") or None, outcome,
                 since, until, after), tz


_COLUMNS = "id, at, role, actor, credential, center, window_code, action, target, outcome, address, user_agent"


def _entry(r: asyncpg.Record, tz: ZoneInfo) -> dict[str, Any]:
    local = r["at"].astimezone(tz)
    return {"id": r["id"], "at": local.isoformat(), "at_local": local.strftime(LOCAL_TIME), "role": r["role"],
            "actor": r["actor"], "credential": r["credential"], "center": r["center"], "window": r["window_code"],
            "action": r["action"], "target": orjson.loads(r["target"]), "outcome": r["outcome"],
            "address": r["address"], "user_agent": r["user_agent"]}


@api("GET", "/api/v1/audit", "The audit log, newest first: ?center=&actor=&role=&action= (part of it)&outcome=ok|refused"
     "&since=&until= (dates or times, Shanghai)&limit= (1-500)&cursor= (next_cursor of the previous page)",
     response=AuditPage, responses={403: "not an admin, auditor or manager; another center", 404: "unknown center",
                                    422: "bad query parameter"})
async def entries(request: Request) -> Response:
    query, tz = await _query(request)
    raw = request.query_params.get("limit", "100")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT):
        raise _invalid("limit", f"1 to {MAX_LIMIT}")
    limit = int(raw)
    where, args = query.where()
    rows = await request.app.state.pool.fetch(
        f"SELECT {_COLUMNS} FROM audit_log{where} ORDER BY at DESC, id DESC LIMIT {limit + 1}", *args)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    cursor = f"{(last['at'] - EPOCH) // timedelta(microseconds=1)}.{last['id']}" if last else None
    return json({"entries": [_entry(r, tz) for r in rows], "next_cursor": cursor, "timezone": str(tz)})


@api("GET", "/api/v1/audit.csv", "The audit log with the same filters as streamed CSV (UTF-8 with BOM, Excel-safe, Shanghai times)",
     responses={403: "not an admin, auditor or manager; another center", 404: "unknown center", 422: "bad query parameter"})
async def export(request: Request) -> Response:
    query, tz = await _query(request)
    where, args = query.where()
    pool = request.app.state.pool

    async def rows(conn: asyncpg.Connection) -> AsyncIterator[list[Any]]:
        async for r in conn.cursor(f"SELECT {_COLUMNS} FROM audit_log{where} ORDER BY at DESC, id DESC", *args):
            e = _entry(r, tz)
            yield [e["at_local"], e["role"], e["actor"], e["credential"], e["center"], e["window"], e["action"],
                   r["target"], e["outcome"], e["address"], e["user_agent"]]

    async def body() -> AsyncIterator[bytes]:
        async with pool.acquire() as conn, conn.transaction():
            async for chunk in csv_chunks(CSV_HEADER, rows(conn)):
                yield chunk.encode("utf-8")

    name = f"audit-{query.center or 'district'}.csv"
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


async def page(request: Request) -> Response:
    """The auditor's page (its token in ?token=, kept by the page)."""
    return FileResponse(PAGE, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
