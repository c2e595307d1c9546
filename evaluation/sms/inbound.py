"""Twilio's webhooks: residents' replies (``/sms/twilio/inbound``) and delivery status callbacks
(``/sms/twilio/status``). Each request's ``X-Twilio-Signature`` is checked against the configured
public URL (behind a proxy the URL the app sees differs). A reply is bound to the latest prompt sent
to that number and handled once per ``MessageSid``: a repeated delivery gets the first answer again."""
from __future__ import annotations

import logging
from urllib.parse import parse_qsl

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from queue_server.api.endpoints import read_bytes
from queue_server.api.problems import Problem
from queue_server.record.pooled import fetchrow, prepared_on_open

from .. import reviews
from ..levels import is_bad
from ..reviews import NewReview, Recorded, ReviewError
from ..served import from_row
from ..service import Evaluation
from . import texts
from .conversation import interpret
from .outbox import suppress_number

log = logging.getLogger("evaluation.sms")
INBOUND = "/sms/twilio/inbound"
STATUS = "/sms/twilio/status"
_RANK = {"accepted": 0, "queued": 1, "sending": 2, "sent": 3, "receiving": 3, "received": 4, "delivered": 5,
         "undelivered": 5, "failed": 5, "read": 6, "canceled": 5}


def twiml(text: str | None) -> Response:
    reply = MessagingResponse()
    if text:
        reply.message(text)
    return Response(str(reply), media_type="application/xml")


async def signed_form(request: Request, path: str) -> dict[str, str]:
    """The form fields, once the signature over the configured public URL checks out (else 403)."""
    ev = request.app.state.evaluation
    raw = await read_bytes(request)   # Twilio posts application/x-www-form-urlencoded
    params = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    url = request.app.state.settings.public_base_url.rstrip("/") + path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("x-twilio-signature", "")
    if not ev.cfg.twilio_auth_token or not RequestValidator(ev.cfg.twilio_auth_token).validate(url, params, signature):
        # Only failures count against the sender's address: Twilio's own posts are never throttled by IP.
        request.app.state.limiter.check(f"ip:{request.client.host if request.client else '-'}:unsigned")
        raise Problem(403, "Forbidden", "the X-Twilio-Signature does not match this request")
    for name, value in params.items():   # PostgreSQL text cannot hold NUL: refuse it here, not as a 500
        if "\x00" in value:
            raise Problem(422, "Invalid request", f"{name} contains a NUL character",
                          errors=[{"field": name, "message": "contains NUL"}])
    return params


async def inbound(request: Request) -> Response:
    form = await signed_form(request, INBOUND)
    sid, number, body = form.get("MessageSid", ""), form.get("From", ""), form.get("Body", "")
    if not sid or not number:
        raise Problem(422, "Invalid request", "MessageSid and From are required",
                      errors=[{"field": "MessageSid" if not sid else "From", "message": "required"}])
    request.app.state.limiter.check(f"sms:{request.app.state.personal.handle(number)}")
    ev = request.app.state.evaluation
    pool = request.app.state.pool
    now = ev.clock.now_ms()
    personal = request.app.state.personal
    lookups = personal.lookups(number)
    level = interpret(body, "level").level
    if level is not None:   # a level, as most replies are: answered in one statement
        answered = await _rate_and_answer(ev, pool, sid, lookups, level, now)
        if answered is not None:
            return twiml(answered)
    async with pool.acquire() as conn, conn.transaction():
        taken = await conn.fetchrow(_TAKE, lookups, sid, reviews.commit_mode(ev.cfg))
        if not taken["fresh"]:
            reply = await conn.fetchval("SELECT reply FROM sms_inbound WHERE message_sid = $1", sid)
            return twiml(reply)
        prompt = taken if taken["id"] is not None else None
        intent = interpret(body, prompt["conversation"] if prompt else None)
        reply: str | None = None
        outcome = intent.kind
        conversation: str | None = None   # the prompt's conversation from here on, when it moves
        recorded: Recorded | None = None
        if intent.kind == "opt_out":
            await suppress_number(conn, number, texts.keyword(body), personal)
            reply = None if texts.keyword(body) in texts.TWILIO_OPT_OUT else texts.OPTED_OUT  # Twilio confirms its own
        elif intent.kind == "opt_in":
            await conn.execute("DELETE FROM sms_optouts WHERE number_lookup = ANY($1)", lookups)
            reply = texts.OPTED_IN
        elif intent.kind == "nothing":
            reply = texts.NOTHING_TO_RATE
        elif intent.kind == "done":
            reply = texts.ALREADY_RATED
        elif intent.kind == "not_understood":
            reply = texts.NOT_UNDERSTOOD
        elif intent.kind == "reasons":
            await conn.execute("UPDATE reviews SET reasons = $2, comment = $3 WHERE ticket_id = $1 AND round = $4",
                               prompt["ticket_id"], [str(r) for r in intent.reasons], intent.comment,
                               2 if prompt["kind"] == "followup" else 1)
            reply, conversation = texts.BAD_RECORDED, "done"
        else:
            reply, outcome, conversation, recorded = await _rate(ev, conn, prompt, intent.level, now)  # type: ignore[arg-type]
        await conn.execute(_ANSWERED, sid, prompt["id"] if prompt else None, outcome, reply, conversation)
    if recorded is not None:   # committed: announced beside the reply, as every rating is
        ev.announce_recorded(recorded, now)
    return twiml(reply)


async def _rate_and_answer(ev: Evaluation, pool: asyncpg.Pool, sid: str, lookups: list[bytes], level: int,
                           now: int) -> str | None:
    """A level replying to the number's latest prompt while it awaits one, in one statement (its own
    transaction): the rating recorded as ``reviews.insert`` records it and the answer kept with it,
    or "already rated" kept. The served row's lock takes concurrent replies in turn, and the
    delivery's key a concurrent repeat of this one (which then gets the first answer). None, having
    written nothing, for anything else — no prompt, a prompt past its level or a follow-up's, a
    served row missing or marked unrated, a repeat of an answered delivery: the general way answers.
    A bad level opens a case whose deadlines are in the time zone of the ticket's center, so that
    ticket is read first (and the statement then holds to it)."""
    new, bad = NewReview(level=level, channel="sms"), is_bad(level)
    ticket: str | None = None
    if bad:
        ticket = await pool.fetchval("SELECT ticket_id FROM (" + _PROMPT + ") AS p", lookups)
        if ticket is None:
            return None
    answer, conversation = (texts.ask_reason(), "reason") if bad else (texts.THANKS, "done")
    tz = ev.tz(ticket) if ticket else ev.settings.timezone   # only a case's deadlines read it
    row = await fetchrow(pool, _RATE_AND_ANSWER, lookups, *reviews.rate_args(new, now, ev.cfg, tz, ev.calendar),
                         sid, answer, texts.ALREADY_RATED, conversation, ticket)
    if row["center"] is None:
        return None
    if row["id"] is not None:
        ev.announce_recorded(reviews.recorded_from(row), now)
    if not row["answered"]:   # a repeat of this delivery, answered meanwhile
        return await pool.fetchval("SELECT reply FROM sms_inbound WHERE message_sid = $1", sid)
    return answer if row["id"] is not None else texts.ALREADY_RATED


# The latest prompt sent to the numbers whose lookups are ``$1``.
_PROMPT = ("SELECT m.id, m.ticket_id, m.kind, m.conversation FROM sms_messages m"
           " WHERE m.to_lookup = ANY($1) AND m.state = 'sent' ORDER BY m.sent_at DESC, m.id DESC LIMIT 1")

# A level's statement: the rating statement ($2-$17, ``reviews.rate_args``) for the ticket of the
# latest prompt while it awaits a level (and is ``$22``'s, when given), with the delivery ($18)
# answered: ``$19`` kept when the rating is recorded, ``$20`` when it was already, and the prompt's
# conversation moved (to ``$21``, or done). Nothing is kept without the served row.
_RATE_AND_ANSWER = prepared_on_open(
    "WITH p AS (" + _PROMPT + "), "
    + reviews.rate_with("(SELECT ticket_id FROM p WHERE conversation = 'level' AND kind <> 'followup'"
                        " AND ($22::text IS NULL OR ticket_id = $22))")
    + ", answered AS (INSERT INTO sms_inbound (message_sid, message_id, outcome, reply)"
    "   SELECT $18, (SELECT id FROM p), CASE WHEN rated.id IS NULL THEN 'already_rated' ELSE 'rated' END,"
    "     CASE WHEN rated.id IS NULL THEN $20 ELSE $19 END"
    "   FROM s LEFT JOIN rated ON true ON CONFLICT DO NOTHING RETURNING 1),"
    " talk AS (UPDATE sms_messages SET conversation = CASE WHEN EXISTS (SELECT 1 FROM rated) THEN $21 ELSE 'done' END"
    "   WHERE id = (SELECT id FROM p) AND EXISTS (SELECT 1 FROM answered))"
    + reviews.RATE_ROW + ", (SELECT count(*) FROM answered) AS answered" + reviews.RATE_FROM)

# The general way's first statement: the delivery taken (``fresh`` 0: a repeat, which waited for
# the first one's commit), the transaction's commit mode set (``reviews.commit_mode``), and the
# latest prompt sent to the number locked, with the served ticket it rates in ``served.from_row``'s
# columns — one round trip where there were three.
_TAKE = prepared_on_open(
    "WITH fresh AS (INSERT INTO sms_inbound (message_sid) VALUES ($2) ON CONFLICT DO NOTHING RETURNING 1)"
    " SELECT (SELECT count(*) FROM fresh) AS fresh, set_config('synchronous_commit', $3, true) AS commit_mode, p.*"
    " FROM (SELECT 1) AS one LEFT JOIN LATERAL ("
    "   SELECT m.*, s.ticket_id AS served_ticket, s.center, s.window_code, s.staff_id, s.matter, s.day,"
    "     s.finished_at, s.has_phone, s.unrated_at"
    "   FROM (" + _PROMPT + " FOR UPDATE OF m) AS m LEFT JOIN eval_served s ON s.ticket_id = m.ticket_id"
    " ) AS p ON true")

# Its last: what the reply did, kept for a repeated delivery, and the prompt's conversation moved.
_ANSWERED = (
    "WITH talk AS (UPDATE sms_messages SET conversation = $5 WHERE id = $2 AND $5::text IS NOT NULL)"
    " UPDATE sms_inbound SET message_id = $2, outcome = $3, reply = $4 WHERE message_sid = $1")


async def _rate(ev: Evaluation, conn: asyncpg.Connection, prompt: asyncpg.Record, level: int, now: int
                ) -> tuple[str, str, str, Recorded | None]:
    """(reply, outcome, the prompt's conversation, the rating). A first rating of a served ticket is
    the one statement (``reviews.insert``); anything else, or a refusal to explain, the general way."""
    new = NewReview(level=level, channel="sms", round=2 if prompt["kind"] == "followup" else 1)
    tid, tz = prompt["ticket_id"], ev.tz(prompt["ticket_id"])
    served = from_row(prompt) if prompt["served_ticket"] is not None else None
    try:
        recorded = None
        if new.round == 1 and served is not None and not served.unrated:
            recorded = await reviews.insert(conn, tid, new, now, ev.cfg, tz, ev.calendar)
        if recorded is None:
            async with conn.transaction():  # a savepoint: a refused rating leaves the rest of the reply intact
                recorded = await reviews.write(conn, ev.cfg, tz, ev.calendar, tid, new, now)
    except ReviewError as exc:
        reply = {"too_late": texts.TOO_LATE, "not_found": texts.NOTHING_TO_RATE}.get(exc.code, texts.ALREADY_RATED)
        return reply, exc.code, "done", None
    bad = is_bad(level) and new.round == 1
    return (texts.ask_reason() if bad else texts.THANKS), "rated", "reason" if bad else "done", recorded


async def status_callback(request: Request) -> Response:
    form = await signed_form(request, STATUS)
    sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if not sid or not status:
        raise Problem(422, "Invalid request", "MessageSid and MessageStatus are required",
                      errors=[{"field": "MessageSid" if not sid else "MessageStatus", "message": "required"}])
    pool = request.app.state.pool
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO sms_status_events (message_sid, status, error_code) VALUES ($1, $2, $3)"
                           " ON CONFLICT DO NOTHING", sid, status[:32], form.get("ErrorCode") or None)
        current = await conn.fetchrow("SELECT id, to_sealed, twilio_status FROM sms_messages WHERE twilio_sid = $1 FOR UPDATE", sid)
        if current is not None and _RANK.get(status, 0) >= _RANK.get(current["twilio_status"] or "", 0):
            await conn.execute("UPDATE sms_messages SET twilio_status = $2 WHERE id = $1", current["id"], status[:32])
        number = request.app.state.personal.open(current["to_sealed"]) if current is not None else None
        if number is not None and form.get("ErrorCode") == "21610":
            await suppress_number(conn, number, "twilio-21610", request.app.state.personal)
    return Response(status_code=204)
