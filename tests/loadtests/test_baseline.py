"""The bare baseline the benchmarks divide by must reach Redis as the server does: with redis-py's
pure-Python packer (19 µs an EVALSHA against hiredis's 5 µs) the baseline was slower than it should
be, and every "ratio to baseline" flattered us."""
from __future__ import annotations

import httpx
import pytest

from loadtests import baseline_app
from queue_server.engine.connection import redis_client
from queue_server.engine.connection import connection_class
from tests.support import Services


async def test_the_baseline_uses_the_servers_redis_client(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", services.redis_url)
    monkeypatch.setenv("QUEUE_KEY_PREFIX", f"t{services.run_id}baseline")   # dropped with the session's keys
    app = baseline_app.create_app()
    ours, theirs = app.state.redis.connection_pool, redis_client(services.redis_url).connection_pool
    try:
        assert type(ours) is type(theirs) and ours.connection_class is theirs.connection_class
        assert ours.connection_class is connection_class(services.redis_url)     # hiredis's packer
        assert ours.max_connections == theirs.max_connections
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://baseline") as client:
            r = await client.post("/op", json={"matter": "hrss-001"})
        assert r.status_code == 200 and r.json()["id"]
        used = ours._available_connections + list(ours._in_use_connections)
        assert used and all(isinstance(c, ours.connection_class) for c in used)
    finally:
        await app.state.redis.aclose()
        await theirs.disconnect()
