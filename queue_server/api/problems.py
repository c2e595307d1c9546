"""RFC 9457 problem details: the one shape every error leaves this server in."""
from __future__ import annotations

import logging
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

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
    "not_served_here": 409,
    "rebuilding": 503,
}


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


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
    return problem_response(exc.status, exc.title, exc.detail, request.url.path, **exc.extra)


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
            ClientDisconnect: on_client_gone, Exception: on_unexpected}
