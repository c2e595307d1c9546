"""The stack's own limit: a bare Starlette endpoint doing one Redis script call and nothing else.
Benchmarks report our throughput as a ratio of this, measured in the same run on the same machine.
Its Redis client is the server's own (``queue_server.app.redis_client``: the hiredis command packer,
the same pool), so the ratio compares our work with the bare call, not two clients' costs."""
from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from queue_server.engine.connection import redis_client

SCRIPT = "redis.call('INCR', KEYS[1]) return redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'f', ARGV[1])"


def create_app() -> Starlette:
    redis = redis_client(os.environ["REDIS_URL"])
    script = redis.register_script(SCRIPT)
    prefix = os.environ.get("QUEUE_KEY_PREFIX", "baseline")

    async def op(request: Request) -> Response:
        await request.body()
        sid = await script(keys=[f"{prefix}:{{b}}:n", f"{prefix}:{{b}}:s"], args=["x"])
        return Response(b'{"id":"' + sid + b'"}', media_type="application/json")

    async def ready(request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    app = Starlette(routes=[Route("/op", op, methods=["POST"]), Route("/readyz", ready)])
    app.state.redis = redis
    return app
