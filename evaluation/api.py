"""HTTP endpoints of the evaluation: ratings, web review links and their page, figures, the review
export, and rectification cases. Residents rate only through a window's tablet (the tablet token of
the window that served them, within minutes) or a web link; staff and manager tokens never rate."""
from __future__ import annotations

import base64
import contextlib
import csv
import dataclasses
import hashlib
import io
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from queue_server.api.auth import principal, require
from queue_server.api.endpoints import Doc, Endpoints, json, read_body, record_id
from queue_server.api.problems import Problem
from queue_server.api.tickets import limit_outsider
from queue_server.clock import from_ms
from queue_server.domain.numbering import center_of, day_of
from queue_server.engine.queue_engine import EngineError
from queue_server.record.exporter import BOM, excel_row, local_time
from queue_server.record.people import Principal

from . import links, rectification, served
from .events import emit
from .figures import GROUPS, figures
from .levels import LABELS, REASON_LABELS, is_bad
from .rectification import DISTRICT_ONLY, CaseError, public_case
from .reviews import AtWindow, NewReview, Recorded, ReviewError
from .schemas import Case, CaseList, CaseStep, LinkCreated, LinkInfo, NewLink, NewRating, Rating, SatisfactionFigures, Scale
from .service import Evaluation
from .sms.outbox import enqueue_followup

api = Endpoints("evaluation")
PAGE = Path(__file__).resolve().parent.parent / "displays" / "review.html"
REVIEW_STATUS = {"not_found": 404, "already_rated": 409, "link_used": 409, "too_late": 409, "no_followup": 409}
CASE_STATUS = {"not_found": 404, "unknown_action": 404, "illegal_transition": 409}


def _ev(request: Request) -> Evaluation:
    return request.app.state.evaluation


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "Invalid request", f"{field}: {message}", errors=[{"field": field, "message": message}])


async def _served(ev: Evaluation, ticket_id: str) -> served.Served:
    if center_of(ticket_id) not in ev.catalog.centers:
        raise Problem(404, "Not found", f"ticket {ticket_id!r} not found")
    try:
        return ev.recent.get(ticket_id) or await served.find(ev.engine, ev.pool, ticket_id)
    except served.NotServed as exc:
        if exc.status is None:
            raise Problem(404, "Not found", f"ticket {ticket_id!r} not found") from None
        raise Problem(409, "Not finished", f"ticket {ticket_id!r} is {exc.status}; only finished tickets are rated") from None


@contextlib.contextmanager
def _refusal_as_problem() -> Iterator[None]:
    try:
        yield
    except ReviewError as exc:
        raise Problem(REVIEW_STATUS.get(exc.code, 409), exc.code.replace("_", " ").capitalize(), exc.message,
                      code=exc.code) from None


def _created(rec: Recorded) -> Response:
    return json({**rec.review, "case_id": rec.case_id}, 201)


async def _record(ev: Evaluation, ticket_id: str, new: NewReview, link: str | None = None,
                  known: served.Served | None = None) -> Response:
    with _refusal_as_problem():
        return _created(await ev.record(ticket_id, new, link, known))


@api("POST", "/api/v1/reviews", "Rate a finished ticket (tablet of its window, or a web link); one rating per ticket",
     body=NewRating, response=Rating, status=201, auth=False,
     responses={401: "tablet rating without a token", 403: "not this ticket's tablet, or a staff/manager token",
                404: "no such ticket or link", 409: "already rated, link used, not finished or too late",
                410: "the link expired", 429: "rate limited"})
async def rate(request: Request) -> Response:
    ev = _ev(request)
    who = await principal(request, required=False)
    if who is not None and who.role != "device":
        raise Problem(403, "Forbidden", f"a {who.role} token may never submit a rating")
    limit_outsider(request, who)
    body = await read_body(request, NewRating)
    if is_bad(body.level) and not body.reasons:
        raise _invalid("reasons", "a rating of 1 or 2 needs at least one reason")
    new = NewReview(level=body.level, channel=body.channel, reasons=list(dict.fromkeys(body.reasons)), comment=body.comment)
    if body.channel == "tablet":
        return await _tablet_rating(ev, who, body.ticket_id, new)
    return await _web_rating(ev, who, body, new)


async def _tablet_rating(ev: Evaluation, who: Principal | None, ticket_id: str, new: NewReview) -> Response:
    """Only the tablet of the window that served the ticket, and only soon after it finished."""
    if who is None:
        raise Problem(401, "Unauthorized", "a tablet rating needs the window tablet's token")
    if who.device_kind != "tablet" or who.window is None:
        raise Problem(403, "Forbidden", "only a window's review tablet rates on the tablet channel")
    if ev.recent.get(ticket_id) is None and center_of(ticket_id) in ev.catalog.centers:
        # another process saw it finish and recorded it, most likely: rated in one statement that
        # checks the window and the time; the usual way below says why when that finds nothing
        at = AtWindow(who.center, who.window, ev.clock.now_ms() - ev.cfg.tablet_window_s * 1000)
        with _refusal_as_problem():
            rec = await ev.record_at(ticket_id, new, at)
        if rec is not None:
            return _created(rec)
    s = await _served(ev, ticket_id)
    if who.center != s.center or who.window != s.window:
        raise Problem(403, "Forbidden", "this tablet belongs to another window than the one that served the ticket")
    if ev.clock.now_ms() - s.finished_at_ms > ev.cfg.tablet_window_s * 1000:
        raise Problem(409, "Too late", "the tablet may rate a ticket only within "
                      f"{ev.cfg.tablet_window_s} s of finishing; the resident can still rate by SMS or web", code="too_late")
    return await _record(ev, ticket_id, new, known=s)


async def _web_rating(ev: Evaluation, who: Principal | None, body: NewRating, new: NewReview) -> Response:
    """The resident's own link, unused and unexpired, for this very ticket; its round is the link's."""
    if who is not None:
        raise Problem(403, "Forbidden", "web ratings come from the resident's link, not a device")
    if body.link is None:
        raise _invalid("link", "a web rating needs its review link")
    link = await _link(ev, body.link)
    if link.ticket_id != body.ticket_id:
        raise _invalid("ticket_id", "the link belongs to another ticket")
    s = await _served(ev, body.ticket_id)
    return await _record(ev, body.ticket_id, dataclasses.replace(new, round=link.round), body.link, known=s)


async def _live_phone(ev: Evaluation, ticket_id: str) -> str | None:
    """The phone on the ticket in Redis: the record in PostgreSQL may not have caught up yet."""
    try:
        return (await ev.engine.ticket(ticket_id)).ticket.get("phone")
    except EngineError:
        return None


async def _link(ev: Evaluation, token: str) -> links.Link:
    link = await links.find(ev.pool, token)
    if link is None:
        raise Problem(404, "Not found", "no such review link")
    if link.used_at is not None:
        raise Problem(409, "Link used", "this review link was already used", code="link_used")
    if link.expires_at.timestamp() * 1000 <= ev.clock.now_ms():
        raise Problem(410, "Link expired", "this review link has expired", code="link_expired")
    return link


@api("GET", "/api/v1/reviews/scale", "The five levels and the reasons of a bad review, bilingual", response=Scale, auth=False)
async def scale(request: Request) -> Response:
    return json({"levels": [{"level": n, "zh": zh, "en": en, "bad": is_bad(n)} for n, (zh, en) in LABELS.items()],
                 "reasons": [{"code": str(r), "zh": zh, "en": en} for r, (zh, en) in REASON_LABELS.items()]})


@api("POST", "/api/v1/reviews/links", "Make a single-use web review link for a ticket (e.g. a QR on the tablet or ticket)",
     body=NewLink, response=LinkCreated, status=201,
     responses={403: "another center, or round 2 without a manager", 404: "no such ticket", 409: "no rectified case",
                429: "a device's links are rate-limited"})
async def new_link(request: Request) -> Response:
    ev = _ev(request)
    who = await principal(request)
    assert who is not None
    body = await read_body(request, NewLink)
    center = center_of(body.ticket_id)
    if center not in ev.catalog.centers:
        raise Problem(404, "Not found", f"ticket {body.ticket_id!r} not found")
    # a service point's kiosk or assistant makes links for its own point's tickets (checked below)
    require(who, center, {"manager", "staff", "device", "assistant"}, device_kinds={"tablet", "kiosk"}, point=who.point)
    limit_outsider(request, who)   # a device mints one link per ticket it prints or rates, not hundreds
    if body.round == 2:
        require(who, center, {"manager"})
        if not await ev.pool.fetchval("SELECT 1 FROM rectifications c JOIN reviews r ON r.id = c.review_id"
                                      " WHERE r.ticket_id = $1 AND c.state = 'rectified'", body.ticket_id):
            raise Problem(409, "No follow-up", "a follow-up link needs a rectified bad review")
    else:
        try:
            point = (await ev.engine.ticket(body.ticket_id)).ticket.get("service_point")
        except EngineError:  # gone from Redis: the record must know it
            row = await ev.pool.fetchrow("SELECT service_point FROM tickets WHERE id = $1 AND day = $2",
                                         body.ticket_id, day_of(body.ticket_id))
            if row is None:
                raise Problem(404, "Not found", f"ticket {body.ticket_id!r} not found") from None
            point = row["service_point"]
        if who.point is not None and point != who.point:
            raise Problem(403, "Forbidden", f"the token belongs to service point {who.point}")
    token, expires = await links.mint(ev.pool, body.ticket_id, body.round, ev.clock.now_ms(), ev.cfg.link_ttl_h)
    return json({"url": links.url(request.app.state.settings.public_base_url, token), "ticket_id": body.ticket_id,
                 "round": body.round, "expires_at": int(expires.timestamp() * 1000)}, 201)


@api("GET", "/api/v1/reviews/links/{token}", "What a web review link rates (the review page reads it)", response=LinkInfo,
     auth=False, responses={404: "no such link", 409: "used, or the ticket is not finished", 410: "expired"})
async def link_info(request: Request) -> Response:
    limit_outsider(request, None)
    ev = _ev(request)
    link = await _link(ev, request.path_params["token"])
    s = await _served(ev, link.ticket_id)
    center = ev.catalog.centers[s.center]
    window = center.windows.get(s.window or "")
    matter = ev.catalog.matters.get(s.matter)
    return json({
        "ticket_id": s.ticket_id, "number": s.ticket_id.rsplit("-", 1)[1], "round": link.round,
        "center": {"code": center.code, "name_zh": center.name_zh, "name_en": center.name_en},
        "window": {"code": s.window, "name_zh": window.name_zh if window else "", "name_en": window.name_en if window else ""},
        "matter": {"code": s.matter, "name_zh": matter.name_zh if matter else s.matter,
                   "name_en": matter.name_en if matter else s.matter},
        "finished_at": s.finished_at_ms, "expires_at": int(link.expires_at.timestamp() * 1000)})


def _page_headers() -> dict[str, str]:
    """The page's one inline style and script are allowed by their hashes, nothing else inline; the
    link's secret is in the URL, so no Referer and no caching."""
    html = PAGE.read_text(encoding="utf-8")

    def digest(tag: str) -> str:
        body = re.search(rf"<{tag}>(.*?)</{tag}>", html, re.S)
        return "'sha256-" + base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode() + "'" if body else ""

    return {"Content-Security-Policy": f"default-src 'self'; style-src {digest('style')}; script-src {digest('script')};"
                                       " img-src 'self' data:; frame-ancestors 'none'",
            "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}


PAGE_HEADERS = _page_headers()


async def review_page(request: Request) -> Response:
    return FileResponse(PAGE, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


api.routes.append(Route(links.PATH + "{token}", review_page, methods=["GET"]))


PERIOD_QUERY = {"center": "a center's code (a manager's own by default)", "since": "first day, YYYY-MM-DD (today by default)",
                "until": "last day, YYYY-MM-DD (today by default)"}


def _days(request: Request, ev: Evaluation, center: str | None) -> tuple[date, date]:
    tz = ev.catalog.centers[center].timezone if center else ev.settings.timezone
    today = datetime.fromtimestamp(ev.clock.now_ms() / 1000, tz=ZoneInfo(tz)).date()
    out = []
    for name in ("since", "until"):
        raw = request.query_params.get(name)
        try:
            out.append(date.fromisoformat(raw) if raw else today)
        except ValueError:
            raise _invalid(name, "a date like 2026-11-30") from None
    if out[0] > out[1] or out[1] - out[0] > timedelta(days=366):
        raise _invalid("since", "since must be on or before until, at most a year apart")
    return out[0], out[1]


async def _scope(request: Request, roles: set[str], device_kinds: set[str] | None = None) -> tuple[Principal, str | None]:
    ev = _ev(request)
    who = await principal(request)
    assert who is not None
    center = request.query_params.get("center") or (who.center if who.role != "admin" else None)
    if center is not None and center not in ev.catalog.centers:
        raise Problem(404, "Not found", f"unknown center {center!r}")
    if center is None and who.role != "admin":
        raise _invalid("center", "required")
    if center is not None:
        require(who, center, roles, device_kinds=device_kinds)
    return who, center


@api("GET", "/api/v1/reviews/figures", "Satisfaction figures; ?center=&since=&until=&by=center,window,staff,matter,day",
     response=SatisfactionFigures, responses={403: "another center", 404: "unknown center", 422: "bad query parameter"},
     query={**PERIOD_QUERY, "by": "comma-separated: center, window, staff, matter, day"})
async def figures_endpoint(request: Request) -> Response:
    ev = _ev(request)
    _, center = await _scope(request, {"manager", "device"}, {"dashboard"})
    by = [g.strip() for g in request.query_params.get("by", "center,day").split(",") if g.strip()]
    if not by or any(g not in GROUPS for g in by) or len(set(by)) != len(by):
        raise _invalid("by", f"one or more of {', '.join(GROUPS)}")
    since, until = _days(request, ev, center)
    rows = await figures(ev.pool, since, until, center, by, ev.clock.now_ms())
    return json({"since": since.isoformat(), "until": until.isoformat(), "center": center, "by": by, "rows": rows})


EXPORT_COLUMNS = ("id", "ticket_id", "center", "window", "staff_id", "matter", "day", "round", "level", "channel",
                  "is_default", "prompted", "excluded", "reasons", "comment", "rated_at")


async def export(request: Request) -> Response:
    """Every rating of the days given as CSV (UTF-8 with BOM for Excel), times in the center's timezone;
    no resident data in it."""
    ev = _ev(request)
    _, center = await _scope(request, {"manager"})
    since, until = _days(request, ev, center)
    rows = await ev.pool.fetch(
        "SELECT r.id, r.ticket_id, s.center, s.window_code AS window, s.staff_id, s.matter, s.day, r.round, r.level,"
        " r.channel, r.is_default, r.prompted, r.excluded, array_to_string(r.reasons, ';') AS reasons, r.comment,"
        " r.rated_at FROM reviews r JOIN eval_served s ON s.ticket_id = r.ticket_id"
        " WHERE s.day BETWEEN $1 AND $2 AND ($3::text IS NULL OR s.center = $3) ORDER BY s.day, r.id", since, until, center)
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for r in rows:
        tz = ev.catalog.centers[r["center"]].timezone if r["center"] in ev.catalog.centers else ev.settings.timezone
        writer.writerow(excel_row(local_time(r[c], tz) if c == "rated_at" else r[c] for c in EXPORT_COLUMNS))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="reviews-{since}-{until}.csv"'})


api.routes.append(Route("/api/v1/reviews/export.csv", export, methods=["GET"]))
api.docs.append(Doc("GET", "/api/v1/reviews/export.csv", "Ratings as CSV; ?center=&since=&until=", None, None, 200, True,
                    "evaluation", {403: "another center", 404: "unknown center", 422: "bad query parameter"}, PERIOD_QUERY))


async def _case(ev: Evaluation, case_id: int, who: Principal) -> dict:
    row = await ev.pool.fetchrow("SELECT * FROM rectifications WHERE id = $1", case_id)
    if row is None:
        raise Problem(404, "Not found", f"no rectification case {case_id}")
    require(who, row["center"], {"manager"})
    return dict(row)


def _case_body(case: dict, ev: Evaluation, notes: list | None = None) -> dict:
    now = from_ms(ev.clock.now_ms())
    return {**public_case(case), "overdue": rectification.overdue_stages(case, now),
            "notes": [public_case(dict(n)) for n in notes or []]}


def _case_id(request: Request) -> int:
    raw = request.path_params["id"]
    case = record_id(raw)
    if case is None:
        raise Problem(404, "Not found", f"no rectification case {raw!r}")
    return case


@api("GET", "/api/v1/rectifications", "Rectification cases; ?center=&state=", response=CaseList,
     responses={403: "another center", 404: "unknown center", 422: "unknown state, or no center for a manager"},
     query={"center": PERIOD_QUERY["center"], "state": "a case state: only those"})
async def cases(request: Request) -> Response:
    ev = _ev(request)
    _, center = await _scope(request, {"manager"})
    state = request.query_params.get("state")
    if state is not None and state not in rectification.STATES:
        raise _invalid("state", "unknown state")
    rows = await ev.pool.fetch("SELECT * FROM rectifications WHERE ($1::text IS NULL OR center = $1)"
                               " AND ($2::text IS NULL OR state = $2) ORDER BY id DESC LIMIT 500", center, state)
    return json({"cases": [_case_body(dict(r), ev) for r in rows]})


@api("GET", "/api/v1/rectifications/{id}", "A rectification case with its notes", response=Case,
     responses={403: "another center", 404: "no such case"})
async def case(request: Request) -> Response:
    ev = _ev(request)
    who = await principal(request)
    assert who is not None
    row = await _case(ev, _case_id(request), who)
    notes = await ev.pool.fetch("SELECT at, author, from_state, to_state, note FROM rectification_notes WHERE case_id = $1"
                                " ORDER BY id", row["id"])
    return json(_case_body(row, ev, notes))


async def case_step(request: Request) -> Response:
    ev = _ev(request)
    who = await principal(request)
    assert who is not None
    action = request.path_params["action"]
    if action not in rectification.TRANSITIONS and action != "note":
        raise Problem(404, "Not found", f"unknown action {action!r}; one of note, {', '.join(rectification.TRANSITIONS)}")
    row = await _case(ev, _case_id(request), who)
    if action in DISTRICT_ONLY and who.role != "admin":
        raise Problem(403, "Forbidden", "only the district upholds or dismisses an appeal")
    body = await read_body(request, CaseStep)
    author = who.staff_id or (f"{who.role}:{who.center}" if who.center else who.role)
    now = ev.clock.now_ms()
    if action == "note":
        if not body.note:
            raise _invalid("note", "required")
        await rectification.add_note(ev.pool, row["id"], author, body.note, now)
        return await case(request)
    try:
        async with ev.pool.acquire() as conn, conn.transaction():
            moved = await rectification.act(conn, row["id"], action, author, body.note, now)
            if moved.case["state"] == "rectified":
                tid = moved.case["ticket_id"]
                await enqueue_followup(conn, tid, now, ev.engine.personal, live_phone=lambda: _live_phone(ev, tid))
    except CaseError as exc:
        raise Problem(CASE_STATUS.get(exc.code, 409), exc.code.replace("_", " ").capitalize(), exc.message,
                      code=exc.code) from None
    await emit(ev.redis, ev.keys, ev.settings.stream_maxlen, moved.case["center"], "rectification.updated", now,
               {"case": public_case(moved.case), "from": moved.from_state, "action": action,
                "ticket_id": moved.case["ticket_id"], "window_code": moved.case["window_code"]})
    return await case(request)


api.routes.append(Route("/api/v1/rectifications/{id}/{action}", case_step, methods=["POST"]))
api.docs.extend(
    Doc("POST", f"/api/v1/rectifications/{{id}}/{action}", f"Rectification case: {action}", CaseStep, Case, 200, True,
        "evaluation", {403: "another center" + (", or not the district" if action in DISTRICT_ONLY else ""),
                       404: "no such case", 409: "not allowed in the case's state"})
    for action in ("note", *rectification.TRANSITIONS))
