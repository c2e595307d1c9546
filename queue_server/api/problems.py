"""RFC 9457 problem details: the one shape every error leaves this server in."""
from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import asyncpg
import orjson
from pydantic import ValidationError
from redis import exceptions as redis_errors
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from ..engine.queue_engine import EngineError

log = logging.getLogger("queue_server.api")

MEDIA_TYPE = "application/problem+json"

# Engine refusals and the HTTP status each one means.
ENGINE_STATUS = {
    "not_found": 404,
    "unknown_matter": 422,
    "unknown_queue": 422,
    "unknown_window": 422,
    "unknown_service_point": 422,
    "not_remote_eligible": 422,
    "point_not_active": 409,
    "point_unserved": 409,
    "point_unstaffed": 409,
    "no_queue": 422,
    "invalid": 422,
    "illegal_transition": 409,
    "window_not_open": 409,
    "window_busy": 409,
    "other_window": 403,
    "other_line": 403,           # a clerk's ticket action on a line their window does not serve
    "other_point": 403,          # an assistant's ticket of another point, or of the hall
    "not_served_here": 409,
    "rebuilding": 503,
    "numbers_exhausted": 503,     # the number reserve ran out and PostgreSQL could not top it up
    "numbers_unverified": 503,
    "record_unavailable": 503,    # PostgreSQL away where the operation needs it (docs/durability.md)
    "code_invalid": 422,          # a resident's SMS code (residents/): none pending, expired or used
    "code_wrong": 422,
    "code_dead": 422,             # too many wrong attempts
    "remote_ticket_live": 409,    # at most one live remote ticket per number and center
    "remote_ticket_pending": 409,
    "present": 409,               # a remote ticket checked in before its grace ended
}


# A backing service that is away (restarting, stopped, unreachable, or its pool exhausted) and the
# Retry-After to give: Redis comes back from a restart in about a second; PostgreSQL takes longer.
REDIS_AWAY = (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.ReadOnlyError,
              redis_errors.TryAgainError, redis_errors.ClusterDownError)
RECORD_AWAY = (asyncpg.PostgresConnectionError, asyncpg.exceptions.CannotConnectNowError,
               asyncpg.exceptions.AdminShutdownError, asyncpg.exceptions.CrashShutdownError,
               asyncpg.exceptions.TooManyConnectionsError, OSError)   # OSError: refused, reset, acquire timeout
REDIS_RETRY_S, RECORD_RETRY_S = 1, 3
_NOTE_EVERY_S = 10.0


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str = "", retry_after_s: int | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.retry_after_s = retry_after_s
        self.extra = extra if retry_after_s is None else {**extra, "retry_after_s": retry_after_s}


class Unavailable(Problem):
    """A backing service is away: 503 with ``Retry-After``, which the pages honour and retry quietly."""

    def __init__(self, service: str, retry_after_s: int) -> None:
        super().__init__(503, "Service unavailable", f"{service} is not answering right now; retry shortly",
                         retry_after_s=retry_after_s)
        self.service = service


def unavailable(exc: BaseException) -> Unavailable:
    """The 503 for ``exc``, one of ``REDIS_AWAY`` or ``RECORD_AWAY``."""
    return Unavailable("Redis", REDIS_RETRY_S) if isinstance(exc, REDIS_AWAY) else Unavailable("PostgreSQL", RECORD_RETRY_S)


class _OutageLog:
    """One warning per service every few seconds while it is away, with how many requests it turned
    away meanwhile: an outage of a minute is a few lines in the log, not a traceback per request."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def note(self, service: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last.get(service, -_NOTE_EVERY_S) < _NOTE_EVERY_S:
            self._quiet[service] = self._quiet.get(service, 0) + 1
            return
        log.warning("%s is away (%s: %s); answering 503 (%d more since the last note)", service,
                    type(exc).__name__, exc, self._quiet.pop(service, 0))
        self._last[service] = now


outages = _OutageLog()


def problem_response(status: int, title: str, detail: str = "", instance: str = "", headers: dict[str, str] | None = None,
                     **extra: Any) -> Response:
    body: dict[str, Any] = {"type": f"https://jingan-queue.example/problems/{title.lower().replace(' ', '-')}",
                            "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def validation_problem(exc: ValidationError) -> Problem:
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
    names = ", ".join(e["field"] for e in errors)
    return Problem(422, "Invalid request", f"invalid field(s): {names}", errors=errors)


async def on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else None
    return problem_response(exc.status, exc.title, exc.detail, request.url.path, headers=headers, **exc.extra)


async def on_service_away(conn: HTTPConnection, exc: Exception) -> Response | None:
    """Redis or PostgreSQL away on the request path: 503 with Retry-After (a socket closes with 1013,
    try again later), never a 500."""
    problem = unavailable(exc)
    outages.note(problem.service, exc)
    if isinstance(conn, WebSocket):
        with contextlib.suppress(Exception):
            await conn.close(1013, "temporarily unavailable")
        return None
    return await on_problem(conn, problem)  # type: ignore[arg-type]


async def on_engine_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EngineError)
    status = ENGINE_STATUS.get(exc.code, 409)
    title = exc.code.replace("_", " ").capitalize()
    headers = {"Retry-After": "1"} if status == 503 else None
    return problem_response(status, title, exc.message, request.url.path, headers=headers, code=exc.code, **exc.fields)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem_response(exc.status_code, exc.detail if isinstance(exc.detail, str) else "HTTP error",
                            instance=request.url.path, headers=exc.headers)


async def on_client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up before its body arrived (it gave up waiting): no one to answer, no error."""
    return Response(status_code=499)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "Internal error", "the server failed unexpectedly; the error was logged",
                            request.url.path)


HANDLERS = {Problem: on_problem, EngineError: on_engine_error, HTTPException: on_http_error,
            ClientDisconnect: on_client_gone, **{cls: on_service_away for cls in (*REDIS_AWAY, *RECORD_AWAY)},
            Exception: on_unexpected}
