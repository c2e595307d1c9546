"""Declaring an endpoint once gives both its Starlette route and its OpenAPI entry."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..domain.catalog import Center
from .problems import Problem, validation_problem

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]
MAX_BODY = 16 * 1024


@dataclass(frozen=True)
class Doc:
    method: str
    path: str
    summary: str
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: bool
    tag: str
    extra_responses: dict[int, str]
    # query parameters the handler reads (name → what it means): documented, so clients and the API
    # fuzzer (tests/fuzz) know them
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class Endpoints:
    tag: str
    routes: list[Route] = field(default_factory=list)
    docs: list[Doc] = field(default_factory=list)

    def __call__(self, method: str, path: str, summary: str, *, body: type[BaseModel] | None = None,
                 response: type[BaseModel] | None = None, status: int = 200, auth: bool = True,
                 responses: dict[int, str] | None = None, query: dict[str, str] | None = None
                 ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(path, handler, methods=[method]))
            self.docs.append(Doc(method, path, summary, body, response, status, auth, self.tag, responses or {},
                                 query or {}))
            return handler
        return register


async def read_bytes(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request's body, refused (413) as soon as it is known to be over ``limit``: by its declared
    ``Content-Length`` before any of it is read, else while it streams in. Reading it whole first would
    let one anonymous request hold as much memory as it cares to send."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> Problem:
    return Problem(413, "Request too large", f"the body is over {limit} bytes",
                   errors=[{"field": "body", "message": f"at most {limit} bytes"}])


async def read_body(request: Request, model: type[M]) -> M:
    """The request's JSON body as ``model``; an empty body means "all defaults". A body declared as
    another media type (a form, ``text/plain``) is refused as such, not parsed and called malformed;
    one without a content type is read as JSON."""
    raw = await read_bytes(request)
    declared = request.headers.get("content-type")
    if raw.strip() and declared is not None and not is_json(declared):
        raise Problem(415, "Unsupported media type", "send the body as application/json",
                      errors=[{"field": "content-type", "message": "must be application/json"}])
    try:
        data: Any = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise Problem(400, "Malformed JSON", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Problem(422, "Invalid request", "the body must be a JSON object", errors=[{"field": "body", "message": "not an object"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_problem(exc) from None


def record_id(raw: str) -> int | None:
    """A path's numeric id (a bigint), None when it is not one: ASCII digits only, since ``isdigit``
    also accepts ``²`` and ``¹``, which ``int`` refuses."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def known_center(request: Request, code: str) -> Center:
    """The catalog's center ``code``: a 404 problem when there is none."""
    center = request.app.state.engine.catalog.centers.get(code)
    if center is None:
        raise Problem(404, "Not found", f"unknown center {code!r}")
    return center


def is_json(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type such as ``application/merge-patch+json``, any parameters."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)
