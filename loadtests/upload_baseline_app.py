"""The bare limit for uploads: a Starlette endpoint that takes a streamed body and answers, nothing
else. ``loadtests.materials_upload`` reports the scan upload's throughput as a ratio of this, measured
in the same run with the same bodies."""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_app() -> Starlette:
    async def upload(request: Request) -> Response:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return Response(b'{"size":%d}' % size, status_code=201, media_type="application/json")

    async def ready(request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    return Starlette(routes=[Route("/upload", upload, methods=["POST"]), Route("/readyz", ready)])
