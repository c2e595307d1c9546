"""The OpenAPI 3.1 document, built from the endpoint declarations and their pydantic models."""
from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from .endpoints import Doc

PROBLEM = {
    "type": "object",
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}, "instance": {"type": "string"},
                   "errors": {"type": "array", "items": {"type": "object"}}},
    "required": ["title", "status"],
}


def build(docs: list[Doc]) -> dict[str, Any]:
    models = {m for d in docs for m in (d.body, d.response) if m is not None}
    keyed, defs = models_json_schema([(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
                                     ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM
    paths: dict[str, Any] = {}
    for d in docs:
        op: dict[str, Any] = {"summary": d.summary, "tags": [d.tag], "operationId": f"{d.method.lower()}{d.path}"}
        params = [{"name": p.split(":")[0], "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in _path_params(d.path)]
        params += [{"name": name, "in": "query", "required": False, "description": what, "schema": {"type": "string"}}
                   for name, what in d.query.items()]
        if params:
            op["parameters"] = params
        if d.body is not None:
            op["requestBody"] = {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{d.body.__name__}"}}}}
        ok: dict[str, Any] = {"description": "success"}
        if d.response is not None:
            ok["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{d.response.__name__}"}}}
        responses: dict[str, Any] = {str(d.status): ok}
        problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for status, why in d.extra_responses.items():
            responses[str(status)] = {"description": why} if status < 400 else {"description": why, "content": problem}
        # what any endpoint of its shape may answer, so a client (and the fuzzer) finds every status listed
        common: dict[int, str] = {}
        if d.auth:
            common |= {401: "missing or invalid token", 403: "the token may not do this here",
                       503: "Redis or PostgreSQL away: retry after Retry-After"}
            op["security"] = [{"bearer": []}]
        if _path_params(d.path):
            common[404] = "no such " + ", ".join(_path_params(d.path))
        if d.body is not None:
            common |= {400: "malformed JSON", 413: "body too large", 415: "body not JSON", 422: "invalid field"}
        for status, why in common.items():
            responses.setdefault(str(status), {"description": why, "content": problem})
        op["responses"] = responses
        paths.setdefault(d.path, {})[d.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Jing'an Neighborhood Assistance queue server", "version": "1.0"},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
