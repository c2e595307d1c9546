"""The residents' API: a one-time code by SMS, a remote ticket taken with it, cancel from the status
page with the ticket's status token, check-in at the kiosk or by the clerk, and each center's notice
settings for the pages. Thin: the atomic parts are Lua scripts (engine/scripts/resident_*.lua)."""
from __future__ import annotations

import contextlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from evaluation.sms.outbox import CODE_KEY, enqueue_notice
from queue_server.api.auth import principal, require
from queue_server.api.calendar import require_open
from queue_server.api.endpoints import Endpoints, json, known_center, read_body
from queue_server.api.problems import Problem
from queue_server.api.schemas import Ticket
from queue_server.api.tickets import limit_outsider, position_body
from queue_server.domain.numbering import center_of, service_day
from queue_server.domain.residents import CODE_DIGITS, code_digest, ticket_to_check_in
from queue_server.domain.tickets import Channel, mask_phone, public_ticket
from queue_server.engine.queue_engine import TICKET_TTL_S, EngineError
from queue_server.record.people import Principal, token_hash

from . import texts
from .config import ResidentsConfig
from .identity import number_key
from .schemas import CheckIn, CodeRequest, CodeSent, RemoteTicket, ResidentNotices, StatusToken, TakeRemoteTicket

api = Endpoints("residents")
CLAIM_PENDING_MS = 30_000   # a claim whose issue never came back (the instance died) frees the number after this
RESIDENT = Principal(role="resident")   # an anonymous resident, for the opening-hours check


def _cfg(request: Request) -> ResidentsConfig:
    return request.app.state.residents


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


@api("POST", "/api/v1/residents/codes", f"Send a {CODE_DIGITS}-digit code by SMS to verify a number before taking a"
     " remote ticket at a center", body=CodeRequest, response=CodeSent, status=202, auth=False,
     responses={404: "unknown center", 422: "invalid field",
                429: "too many codes for this number or from this address: nothing is sent; Retry-After says when",
                503: "Redis or PostgreSQL away"})
async def request_code(request: Request) -> Response:
    limit_outsider(request, None)
    body = await read_body(request, CodeRequest)
    center = known_center(request, body.center)
    state, cfg = request.app.state, _cfg(request)
    k, engine = state.keys, state.engine
    who = number_key(state, body.phone)
    now_s = state.clock.now_ms() // 1000
    # (name, who, limit, window s): a fixed window of the app's clock each
    limits = [("gap", who, 1, cfg.code_gap_s), ("hour", who, cfg.codes_per_number_per_hour, 3600),
              ("address", _address(request), cfg.codes_per_address_per_hour, 3600)]
    try:
        await engine._run("resident_quota", [k.resident_quota(name, key, now_s // span) for name, key, _, span in limits],
                          [x for _, _, n, span in limits for x in (n, span)])
    except EngineError as exc:
        if exc.code != "code_quota":
            raise
        span = limits[int(exc.fields.get("limit", 1)) - 1][3]
        retry = int(span - now_s % span)
        raise Problem(429, "Too many requests", f"no new code now; retry in {retry} s", retry_after_s=retry) from None
    digits = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    await engine._run("resident_code", [k.resident_code(center.code, who)], [code_digest(who, digits), cfg.code_ttl_s, state.clock.now_ms()])
    text = texts.code(digits, center.name_zh, center.name_en, max(1, cfg.code_ttl_s // 60))
    async with state.pool.acquire() as conn:
        await enqueue_notice(conn, f"{CODE_KEY}{secrets.token_hex(8)}", body.phone, text, state.clock.now_ms(), state.personal)
    return json({"phone_masked": mask_phone(body.phone), "expires_in_s": cfg.code_ttl_s, "resend_after_s": cfg.code_gap_s},
                202)


@api("POST", "/api/v1/residents/tickets", "Take a remote ticket with the SMS code (channel remote): at most one live"
     " remote ticket per number and center", body=TakeRemoteTicket, response=RemoteTicket, status=201, auth=False,
     responses={404: "unknown center",
                409: "closed now (next_opening_at), or the number already has a live remote ticket here",
                422: "invalid field, unknown matter, or the code is wrong (attempts_left), expired, used or dead",
                429: "rate limited", 503: "Redis or PostgreSQL away: the code is used up, ask for a new one"})
async def take_ticket(request: Request) -> Response:
    limit_outsider(request, None)
    body = await read_body(request, TakeRemoteTicket)
    center = known_center(request, body.center)
    state, cfg = request.app.state, _cfg(request)
    k, engine = state.keys, state.engine
    if body.matter not in engine.catalog.matters or center.queue_for(body.matter, Channel.REMOTE) is None:
        raise Problem(422, "Invalid request", f"matter {body.matter!r} is not handled at {center.code}",
                      errors=[{"field": "matter", "message": "not handled at this center"}])
    await require_open(request, RESIDENT, center.code, Channel.REMOTE, None, None)
    who = number_key(state, body.phone)
    claim = f"remote-{secrets.token_urlsafe(12)}"
    await engine._run("resident_claim", [k.resident_code(center.code, who), k.resident_claim(center.code, who)],
                      [k.center_base(center.code), code_digest(who, body.code), cfg.code_attempts, state.clock.now_ms(),
                       claim, CLAIM_PENDING_MS, TICKET_TTL_S])
    secret = secrets.token_urlsafe(24)
    try:
        pos = await engine.issue(center.code, body.matter, Channel.REMOTE, phone=body.phone, idempotency_key=claim,
                                 status_token=token_hash(secret))
    except BaseException:
        with contextlib.suppress(Exception):   # Redis away too: the claim frees itself after CLAIM_PENDING_MS
            await engine._run("resident_release", [k.resident_claim(center.code, who)], [claim])
        raise
    base = state.settings.public_base_url.rstrip("/")
    return json({**position_body(pos), "status_token": secret,
                 "status_url": f"{base}/status/{pos.ticket['id']}#token={secret}"}, 201)


def _ticket_id(request: Request) -> str:
    tid: str = request.path_params["id"]
    if center_of(tid) not in request.app.state.engine.catalog.centers:
        raise Problem(404, "Not found", f"ticket {tid[:80]!r} not found")
    return tid


@api("POST", "/api/v1/residents/tickets/{id}/cancel", "Cancel a ticket from its status page, with its status token",
     body=StatusToken, response=Ticket, auth=False,
     responses={403: "not the ticket's status token", 404: "no such ticket",
                409: "no longer waiting (called, served or ended)", 429: "rate limited"})
async def cancel(request: Request) -> Response:
    limit_outsider(request, None)
    body = await read_body(request, StatusToken)
    tid = _ticket_id(request)
    engine = request.app.state.engine
    pos = await engine.ticket(tid)
    stored = pos.ticket.get("status_token") or ""
    if not hmac.compare_digest(stored, token_hash(body.token)):
        raise Problem(403, "Forbidden", "this is not the ticket's status token")
    result = await engine.act(tid, "cancel", extra={"reason": "cancelled by the resident"})
    return json(public_ticket(result["ticket"]))


@api("POST", "/api/v1/residents/centers/{center}/check-in", "Check a resident in at the center (its kiosk, by the"
     " ticket's QR or number; or the clerk): a ticket.present event once, and a called remote ticket no longer lapses",
     body=CheckIn, response=Ticket,
     responses={403: "another center, or not a kiosk, staff or manager", 404: "no such ticket here today",
                409: "no longer waiting or called", 422: "not a ticket number, id or status link"})
async def check_in(request: Request) -> Response:
    center = known_center(request, request.path_params["center"])
    who = await principal(request)
    assert who is not None
    require(who, center.code, {"manager", "staff", "device"}, device_kinds={"kiosk"})
    limit_outsider(request, who)
    body = await read_body(request, CheckIn)
    engine = request.app.state.engine
    tid = ticket_to_check_in(center.code, service_day(engine.clock.now_ms(), center.timezone), body.ticket)
    if tid is None:
        raise Problem(422, "Invalid request", "not a ticket number, id or status link of this center today",
                      errors=[{"field": "ticket", "message": "names no ticket of this center today"}])
    by = "admin" if who.role == "admin" else f"{who.role}:{who.label or who.staff_id or who.center}"
    result = await engine.mark_present(tid, "", by)
    return json(public_ticket(result["ticket"]))


@api("GET", "/api/v1/residents/centers/{center}", "A center's settings for residents: when the \"turn is near\" SMS"
     " goes out, the check-in grace of a called remote ticket", response=ResidentNotices, auth=False,
     responses={404: "unknown center"})
async def notices(request: Request) -> Response:
    center = known_center(request, request.path_params["center"])
    cfg = _cfg(request)
    return json({"center": center.code, "near_ahead": cfg.near_for(center.code), "check_in_grace_s": cfg.check_in_grace_s,
                 "code_ttl_s": cfg.code_ttl_s})


