"""A video session while Redis is killed and restarted with its append-only file: a page that joins
meanwhile is told to come back (1013) and the server stays up; once Redis is back the pages join the
same session again (no second session.started), the relay between them works again, and the
ticket's finish still ends the session once."""
from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg
import httpx
import orjson
from websockets.exceptions import ConnectionClosed

from queue_server.record.people import create_token
from tests.faults.conftest import Stage
from tests.realtime.live import close_code, open_live
from tests.remote_session.test_signaling import C, CLERK, _called_at_r1, _next, _session_events
from tests.support import AUTH, server_process


async def _until_relayed(url: str, path: str, clerk_token: str, point_token: str, deadline_s: float = 30.0) -> str:
    """Join both sides and send chat lines until one arrives (the relay's subscription comes back on its
    own after Redis does); the session id."""
    end = time.monotonic() + deadline_s
    while True:
        assert time.monotonic() < end, "the relay did not come back"
        clerk = await open_live(url, path, token=clerk_token)
        point = await open_live(url, path, token=point_token)
        try:
            session = (await _next(clerk, "joined"))["session"]["id"]
            await _next(point, "joined")
            for _ in range(10):
                await point.send(orjson.dumps({"type": "chat", "text": "还在吗 still there?"}).decode())
                with contextlib.suppress(asyncio.TimeoutError):
                    if (await asyncio.wait_for(_next(clerk, "chat"), 0.5))["text"] == "还在吗 still there?":
                        return session
        except ConnectionClosed:   # refused (1013) while Redis or the relay is coming back: try again
            await asyncio.sleep(0.5)
        finally:
            await clerk.close()
            await point.close()


async def test_a_session_across_a_redis_restart(stage: Stage) -> None:
    settings = stage.settings
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        clerk_token = await create_token(pool, "staff", C, window="r1", staff_id=CLERK, label="r1 clerk")
        point_token = await create_token(pool, "device", C, device_kind="screen", label="sp1 screen", point="sp1")
    finally:
        await pool.close()
    with server_process(settings) as (url, _):
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as http:
            ticket = await _called_at_r1(http)
            path = f"/ws/sessions/{ticket['id']}"
            before = await _until_relayed(url, path, clerk_token, point_token)

            await asyncio.to_thread(stage.redis.kill)
            assert await close_code(await open_live(url, path, token=clerk_token)) == 1013
            assert (await http.get("/healthz")).status_code == 200
            await asyncio.to_thread(stage.redis.restart)

            assert await _until_relayed(url, path, clerk_token, point_token) == before
            clerk = await open_live(url, path, token=clerk_token)
            await _next(clerk, "joined")
            for action in ("start", "finish"):
                for _ in range(100):   # the server's pool may still be reconnecting
                    r = await http.post(f"/api/v1/tickets/{ticket['id']}/{action}")
                    if r.status_code != 503:
                        break
                    await asyncio.sleep(0.2)
                assert r.status_code == 200, r.text
            assert (await _next(clerk, "session.closed"))["reason"] == "finished"
            assert [e["type"] for e in await _session_events(settings, 2)] == ["session.started", "session.closed"]
