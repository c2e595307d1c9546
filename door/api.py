"""HTTP endpoints of door-to-door assistance: the service lists, the visiting roster, cases from
discovery to closing, the visit record (idempotent per record key), the resident's rating on the
visitor's device, and the figures. Thin: the rules are in queue_server.domain.door, the writes in
store.py; every write announces its transitions on the center's stream right after it commits."""
from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from evaluation.api import REVIEW_STATUS
from evaluation.levels import is_bad
from evaluation.reviews import NewReview, ReviewError
from queue_server.api.auth import principal, require
from queue_server.api.endpoints import Endpoints, is_json, json, known_center, read_body, read_bytes, record_id
from queue_server.api.problems import REDIS_AWAY, Problem, outages, validation_problem
from queue_server.domain.door import DISTRICT, IllegalTransition, Source, Stage, list_problems
from queue_server.ops.scope import ScopeError, ops_scope
from queue_server.record.people import Principal

from . import store
from .figures import figures
from .schemas import (
    ApprovalChange, CaseBoard, CenterServiceList, Discovered, DoorCase, DoorRating, Figures, NewCase, NewListVersion, NewVisit,
    NewVisitor, NewVisitRecord, ReviewDecision, ServiceList, StageChange, Visitor, VisitorList, VisitList,
    VisitRecorded)
from .store import DoorError, Resident, VisitRecord

api = Endpoints("door")
CASE = "/api/v1/door/cases/{case}"
DATA_URL = re.compile(r"^data:(image/png|image/jpeg);base64,([A-Za-z0-9+/=]+)$")
MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
WRITERS = {"staff", "manager"}        # who records discoveries, books and visits (and the district admin)
REVIEWERS = {"manager"}               # who decides eligibility


def actor(who: Principal) -> str:
    """Who did it, as the history keeps it: the staff member, else the role at its center."""
    if who.staff_id:
        return who.staff_id
    return f"{who.role}:{who.center}" if who.center else who.role


def _door(request: Request) -> Any:
    return request.app.state.door


def _today(request: Request) -> date:
    state = request.app.state
    return datetime.fromtimestamp(state.clock.now_ms() / 1000, ZoneInfo(state.settings.timezone)).date()


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "Invalid request", f"{field}: {message}", errors=[{"field": field, "message": message}])


def _refused(exc: DoorError | IllegalTransition) -> Problem:
    if isinstance(exc, IllegalTransition):
        return Problem(409, exc.code.replace("_", " ").capitalize(), exc.message, code=exc.code)
    extra: dict[str, Any] = {"code": exc.code}
    if exc.field and exc.status == 422:
        extra["errors"] = [{"field": exc.field, "message": exc.message}]
    return Problem(exc.status, exc.code.replace("_", " ").capitalize(), exc.message, **extra)


async def _center(request: Request, roles: set[str]) -> tuple[Principal, str]:
    who = await principal(request)
    assert who is not None
    code = request.path_params["center"]
    require(who, code, roles)
    return who, known_center(request, code).code


async def _case(request: Request, roles: set[str]) -> tuple[Principal, int]:
    """The case in the path, for a principal of its center with one of ``roles``."""
    who = await principal(request)
    assert who is not None
    case_id = record_id(request.path_params["case"])
    if case_id is None:
        raise Problem(404, "Not found", f"no door-to-door case {request.path_params['case']!r}")
    try:
        center = await store.center_of(request.app.state.pool, case_id)
    except DoorError as exc:
        if who.role not in ("admin", "manager", "staff"):
            raise Problem(403, "Forbidden", f"a {who.role} token may not do this") from None
        raise _refused(exc) from None
    require(who, center, roles)
    return who, case_id


async def _answer_case(request: Request, of: int, status: int = 200, **extra: Any) -> Response:
    """After a write: its transitions go on the stream now, then the case as it stands. The write is
    done once PostgreSQL has it: with Redis away the events wait for the sweep, and the answer is
    still the write's (a 503 would have the client retry a step already taken)."""
    state = request.app.state
    try:
        await _door(request).announcer.announce()
    except REDIS_AWAY as exc:
        outages.note("Redis", exc)
    found = await store.case(state.pool, of, _today(request))
    return json({**extra, "case": found} if extra else found, status)


# ---- service lists --------------------------------------------------------------------------------

def _scope(request: Request) -> str:
    """The list in the path: the district's or a known center's (any token may read one)."""
    scope = request.path_params["scope"]
    if scope != DISTRICT and scope not in request.app.state.engine.catalog.centers:
        raise Problem(404, "Not found", f"no list {scope!r}: 'district' or a center's code")
    return scope


@api("GET", "/api/v1/door/lists/{scope}", "A door-to-door service list (the district's, or a center's additions);"
     " `?version=N` for an earlier one", response=ServiceList, responses={404: "unknown scope or version"},
     query={"version": "an earlier version (default: the current one)"})
async def get_list(request: Request) -> Response:
    await principal(request)
    scope = _scope(request)
    pool = request.app.state.pool
    raw = request.query_params.get("version")
    if raw is not None:
        version = record_id(raw)
        row = await store.list_version(pool, scope, version) if version else None
        if row is None:
            raise Problem(404, "Not found", f"list {scope!r} has no version {raw!r}")
    else:
        row = await store.current_list(pool, scope)
    versions = [{"version": v["version"], "note": v["note"], "changed_by": v["changed_by"],
                 "changed_at": store.ms(v["changed_at"])} for v in await store.list_versions(pool, scope)]
    if row is None:
        return json({"scope": scope, "version": None, "items": [], "versions": versions})
    return json({"scope": scope, "version": row["version"], "items": orjson.loads(row["items"]), "note": row["note"],
                 "changed_by": row["changed_by"], "changed_at": store.ms(row["changed_at"]), "versions": versions})


@api("PUT", "/api/v1/door/lists/{scope}", "Replace a service list: a new version (district: admin; a center's: its manager)",
     body=NewListVersion, response=ServiceList, responses={403: "not the list's owner", 404: "unknown scope",
                                                           422: "unknown or repeated matter"})
async def put_list(request: Request) -> Response:
    who = await principal(request)
    assert who is not None
    scope = _scope(request)
    if scope == DISTRICT:
        if who.role != "admin":
            raise Problem(403, "Forbidden", "only the district admin changes the district's list")
    else:
        require(who, scope, {"manager"})
    body = await read_body(request, NewListVersion)
    problems = list_problems([(i.matter, i.difficulty) for i in body.items],
                             set(request.app.state.engine.catalog.matters))
    if problems:
        raise Problem(422, "Invalid request", "; ".join(m for _, m in problems),
                      errors=[{"field": f"items.{i}.matter", "message": m} for i, m in problems])
    state = request.app.state
    await store.save_list(state.pool, scope, [i.model_dump(mode="json") for i in body.items], body.note, actor(who),
                          state.clock.now_ms())
    return await get_list(request)


@api("GET", "/api/v1/centers/{center}/door/list", "The matters a center serves at home now: the district's list"
     " with the center's additions, each simple or complex", response=CenterServiceList,
     responses={403: "another center's token", 404: "unknown center"})
async def center_list(request: Request) -> Response:
    _, code = await _center(request, {"staff", "manager"})
    items, versions = await store.center_list(request.app.state.pool, code)
    catalog = request.app.state.engine.catalog
    out = []
    for matter, difficulty in sorted(items.items()):
        m = catalog.matters.get(matter)
        out.append({"matter": matter, "difficulty": difficulty, "name_zh": m.name_zh if m else matter,
                    "name_en": m.name_en if m else matter, "materials": store.checklist(m) if m else []})
    return json({"center": code, "items": out, "versions": versions})


# ---- roster ---------------------------------------------------------------------------------------

def _visitor(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "center": row["center"], "name": row["name"], "kind": row["kind"]}


@api("POST", "/api/v1/centers/{center}/door/visitors", "Add a person to the center's visiting roster",
     body=NewVisitor, response=Visitor, status=201, responses={403: "only the center's manager", 409: "id taken"})
async def add_visitor(request: Request) -> Response:
    _, code = await _center(request, {"manager"})
    body = await read_body(request, NewVisitor)
    try:
        row = await store.add_visitor(request.app.state.pool, body.id, code, body.name, body.kind)
    except DoorError as exc:
        raise _refused(exc) from None
    return json(_visitor(row), 201)


@api("GET", "/api/v1/centers/{center}/door/visitors", "The center's visiting roster", response=VisitorList,
     responses={403: "another center's token", 404: "unknown center"})
async def list_visitors(request: Request) -> Response:
    _, code = await _center(request, WRITERS)
    return json({"center": code, "visitors": [_visitor(r) for r in await store.visitors(request.app.state.pool, code)]})


@api("GET", "/api/v1/centers/{center}/door/visitors/{visitor}/visits", "A visitor's bookings from today on"
     " (the visit page's list)", response=VisitList, responses={403: "another center's token", 404: "unknown center"})
async def visitor_visits(request: Request) -> Response:
    _, code = await _center(request, WRITERS)
    visits = await store.visits_of(request.app.state.pool, request.path_params["visitor"], _today(request))
    return json({"visitor": request.path_params["visitor"], "visits": visits})


# ---- cases ----------------------------------------------------------------------------------------

@api("POST", "/api/v1/centers/{center}/door/cases", "Report a resident who needs home service (any channel);"
     " the same resident and matter with an open case is merged into it", body=NewCase, response=Discovered,
     status=201, responses={200: "merged into an open case", 403: "another center's token",
                            422: "unknown matter, bad phone or ID number"})
async def discover(request: Request) -> Response:
    who, code = await _center(request, WRITERS)
    body = await read_body(request, NewCase)
    catalog = request.app.state.engine.catalog
    for i, matter in enumerate(body.matters):
        if matter not in catalog.matters:
            raise _invalid(f"matters.{i}", f"unknown matter {matter!r}")
    matters = list(dict.fromkeys(body.matters))
    state = request.app.state
    case_id, merged = await store.discover(
        state.pool, state.personal, code, Resident(body.resident_name, body.phone, body.address, body.id_number), matters,
        body.reason, body.reason_note, body.source, actor(who), body.note, state.clock.now_ms())
    return await _answer_case(request, case_id, 200 if merged else 201, case_id=case_id, merged=merged)


@api("GET", "/api/v1/centers/{center}/door/cases", "The center's case board, overdue first;"
     " `?stage=a,b&source=&matter=&overdue=true&limit=`", response=CaseBoard,
     responses={403: "another center's token", 404: "unknown center", 422: "unknown stage"},
     query={"stage": "comma-separated stages", "source": "the channel that found the resident", "matter": "a matter's code",
            "overdue": "true: only cases with an overdue approval", "limit": "1 to 1000 (default 200)"})
async def board(request: Request) -> Response:
    _, code = await _center(request, WRITERS)
    q = request.query_params
    stages = [s for s in q.get("stage", "").split(",") if s] or None
    for s in stages or []:
        if s not in set(Stage):
            raise _invalid("stage", f"unknown stage {s!r}")
    source = q.get("source") or None
    if source is not None and source not in set(Source):
        raise _invalid("source", f"unknown source {source!r}")
    limit = record_id(q.get("limit", "200"))
    if limit is None or not 1 <= limit <= 1000:
        raise _invalid("limit", "1 to 1000")
    cases = await store.board(request.app.state.pool, code, _today(request), stages, source, q.get("matter") or None,
                              q.get("overdue") == "true", limit)
    return json({"center": code, "cases": cases})


@api("GET", CASE, "A case with its matters, visits, discoveries, rating and its whole history",
     response=DoorCase, responses={403: "another center's token", 404: "unknown case"})
async def get_case(request: Request) -> Response:
    _, case_id = await _case(request, WRITERS)
    return json(await store.case(request.app.state.pool, case_id, _today(request)))


async def _step(request: Request, roles: set[str], write: Any) -> Response:
    who, case_id = await _case(request, roles)
    try:
        await write(who, case_id)
    except (DoorError, IllegalTransition) as exc:
        raise _refused(exc) from None
    return await _answer_case(request, case_id)


@api("POST", f"{CASE}/review", "Decide eligibility: approve, or refuse with an explanation sent to the resident by SMS",
     body=ReviewDecision, responses={403: "only the center's manager", 409: "not awaiting review, or not eligible",
                                     404: "unknown case"})
async def review(request: Request) -> Response:
    body = await read_body(request, ReviewDecision)
    state = request.app.state
    return await _step(request, REVIEWERS, lambda who, case_id: store.review(
        state.pool, state.personal, case_id, body.decision == "approve", body.reason, actor(who), state.clock.now_ms()))


@api("POST", f"{CASE}/schedule", "Book the visit (date, slot, visitor fit for the matters' difficulty); the materials"
     " list goes to the resident by SMS", body=NewVisit,
     responses={409: "not approved yet, or the visitor is booked for that slot", 422: "unknown or unqualified visitor",
                404: "unknown case"})
async def schedule(request: Request) -> Response:
    body = await read_body(request, NewVisit)
    state = request.app.state
    return await _step(request, WRITERS, lambda who, case_id: store.schedule(
        state.pool, state.personal, state.engine.catalog, case_id, body.visitor, body.date, body.slot, actor(who),
        state.clock.now_ms(), state.settings.timezone))


def _signature(raw: str | None, cap: int) -> tuple[bytes | None, str | None]:
    """The signature image: a PNG or JPEG data URL whose bytes are what they claim, at most ``cap`` bytes."""
    if raw is None:
        return None, None
    m = DATA_URL.match(raw)
    if m is None:
        raise _invalid("signature", "a data: URL of a PNG or JPEG image")
    try:
        image = base64.b64decode(m.group(2), validate=True)
    except binascii.Error:
        raise _invalid("signature", "not valid base64") from None
    if len(image) > cap:
        raise _invalid("signature", f"at most {cap} bytes")
    if not image.startswith(MAGIC[m.group(1)]):
        raise _invalid("signature", f"not a {m.group(1)} image")
    return image, m.group(1)


@api("POST", f"{CASE}/visit", "Record the visit made on site (arrived, materials, accepted or why not, the signature);"
     " sent again with the same record_key it returns the first result", body=NewVisitRecord, response=VisitRecorded,
     status=201, responses={200: "this record was already taken", 409: "no visit booked", 413: "too large",
                            422: "bad signature or field"})
async def visit(request: Request) -> Response:
    door = _door(request)
    who, case_id = await _case(request, WRITERS)
    raw = await read_bytes(request, door.cfg.visit_body_max)
    declared = request.headers.get("content-type")
    if declared is not None and not is_json(declared):
        raise Problem(415, "Unsupported media type", "send the body as application/json")
    try:
        body = NewVisitRecord.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise validation_problem(exc) from None
    if not body.accepted and not body.reason:
        raise _invalid("reason", "say why nothing could be accepted")
    image, kind = _signature(body.signature, door.cfg.signature_max)
    state = request.app.state
    rec = VisitRecord(body.record_key, body.arrived_at, [m.model_dump() for m in body.materials], body.accepted,
                      body.reason, image, kind)
    try:
        visit_id, new = await store.record_visit(state.pool, state.personal, state.evaluation.cfg, case_id, rec, actor(who),
                                                 state.clock.now_ms(), door.cfg.approval_days, state.settings.timezone)
    except (DoorError, IllegalTransition) as exc:
        raise _refused(exc) from None
    return await _answer_case(request, case_id, 201 if new else 200, visit_id=visit_id, new=new)


@api("GET", f"{CASE}/visits/{{visit}}/signature", "The resident's signature image of a recorded visit",
     responses={404: "no such visit or no signature"})
async def signature(request: Request) -> Response:
    _, case_id = await _case(request, WRITERS)
    visit_id = record_id(request.path_params["visit"])
    row = await store.signature(request.app.state.pool, case_id, visit_id) if visit_id else None
    if row is None:
        raise Problem(404, "Not found", "no signature for this visit")
    return Response(bytes(row["signature"]), media_type=row["signature_type"],
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


@api("POST", f"{CASE}/approvals/{{matter}}", "Track a matter's approval after the visit (the resident gets an SMS"
     " at each change)", body=ApprovalChange, responses={409: "not tracking, or the approval cannot go back",
                                                         404: "unknown case or matter"})
async def approval(request: Request) -> Response:
    body = await read_body(request, ApprovalChange)
    state = request.app.state
    return await _step(request, WRITERS, lambda who, case_id: store.update_approval(
        state.pool, state.personal, state.engine.catalog, case_id, request.path_params["matter"], body.state, body.expected_by,
        body.reason, actor(who), state.clock.now_ms()))


@api("POST", f"{CASE}/close", "Close a tracked case once every approval is done", body=StageChange,
     responses={409: "approvals still pending, or not tracking", 404: "unknown case"})
async def close(request: Request) -> Response:
    body = await read_body(request, StageChange)
    state = request.app.state
    return await _step(request, WRITERS, lambda who, case_id: store.close(
        state.pool, case_id, body.reason, actor(who), state.clock.now_ms()))


@api("POST", f"{CASE}/cancel", "Withdraw a case before its visit, with a reason", body=StageChange,
     responses={409: "too late to cancel, or no reason", 404: "unknown case"})
async def cancel(request: Request) -> Response:
    body = await read_body(request, StageChange)
    state = request.app.state
    return await _step(request, WRITERS, lambda who, case_id: store.cancel(
        state.pool, case_id, body.reason, actor(who), state.clock.now_ms()))


@api("POST", f"{CASE}/rating", "The resident rates the visit on the visitor's device (channel door), soon after it;"
     " a bad rating opens a rectification case", body=DoorRating, status=201,
     responses={409: "already rated, not visited yet, or too late", 404: "unknown case", 422: "bad rating"})
async def rating(request: Request) -> Response:
    body = await read_body(request, DoorRating)
    _, case_id = await _case(request, WRITERS)
    if is_bad(body.level) and not body.reasons:
        raise _invalid("reasons", "a rating of 1 or 2 needs at least one reason")
    state = request.app.state
    found = await store.case(state.pool, case_id, _today(request))
    if found["visited_at"] is None:
        raise Problem(409, "Not visited", "the service is rated after the visit accepted it", code="not_visited")
    if state.clock.now_ms() - found["visited_at"] > _door(request).cfg.rating_window_s * 1000:
        raise Problem(409, "Too late", "rating on the visitor's device is for the visit itself; the resident can"
                      " still rate by SMS", code="too_late")
    new = NewReview(level=body.level, channel="door", reasons=list(dict.fromkeys(body.reasons)), comment=body.comment)
    try:
        rec = await state.evaluation.record(store.served_id(found["center"], case_id), new)
    except ReviewError as exc:
        raise Problem(REVIEW_STATUS.get(exc.code, 409), exc.code.replace("_", " ").capitalize(), exc.message,
                      code=exc.code) from None
    return json({**rec.review, "case_id": rec.case_id}, 201)


@api("GET", "/api/v1/door/figures", "Door-to-door figures: cases by stage, median days discovery→visit and"
     " →approval, satisfaction; `?center=&since=&until=` (local days, default the last 30)", response=Figures,
     responses={403: "not an admin, manager or auditor, or another center's", 404: "unknown center",
                422: "bad date or range"},
     query={"center": "one center (default: all the token may see)", "since": "YYYY-MM-DD",
            "until": "YYYY-MM-DD, inclusive"})
async def door_figures(request: Request) -> Response:
    who = await principal(request)
    assert who is not None
    q = request.query_params
    try:   # who sees which figures: the ops views' one rule
        center = ops_scope(who, q.get("center") or None, request.app.state.engine.catalog.centers, devices=False)
    except ScopeError as exc:
        raise Problem(exc.status, "Forbidden" if exc.status == 403 else "Not found", exc.message) from None
    today = _today(request)
    try:
        until = date.fromisoformat(q["until"]) if q.get("until") else today
        since = date.fromisoformat(q["since"]) if q.get("since") else until - timedelta(days=29)
    except ValueError:
        raise _invalid("since", "dates as YYYY-MM-DD") from None
    if since > until or (until - since).days > 366:
        raise _invalid("since", "since on or before until, at most a year apart")
    state = request.app.state
    return json(await figures(state.pool, center, since, until, state.settings.timezone, today))
