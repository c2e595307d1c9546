"""Where a queue operation's CPU goes inside the server, without the network or a load generator:
whole visits (issue, call-next, start, finish) through the app in this process, each request handed
to the ASGI app as uvicorn would hand it, eight windows at once, the app's background work (the
record's persister, the consumers, the audit writer, the live figures) running in the same loop as
in an ``all`` process. Prints the CPU per operation (this process's, so the app's plus the few
microseconds of calling it) and Redis's own time in the queue scripts per operation (``INFO
commandstats``: run it alone on its Redis); with ``--profile``, cProfile's hottest functions (its own
overhead about doubles the time of small Python functions, not of system calls).

    python -m loadtests.request_path [--visits 2000] [--profile]"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import orjson

from loadtests.harness import ADMIN_TOKEN, command_stats, fresh_database, hottest, key_prefix, run, services
from queue_server.app import create_app
from queue_server.config import Settings
from queue_server.record.people import create_token

C = "jingansi"
WINDOWS = [f"w{i}" for i in range(1, 9)]


async def call(app: Any, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    """One request as uvicorn hands it to the app: its scope, its body in one message, the answer kept."""
    raw = orjson.dumps(body) if body is not None else b""
    headers = [(b"host", b"load"), (b"authorization", b"Bearer " + token.encode()), (b"user-agent", b"request-path")]
    if body is not None:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}
    messages = [{"type": "http.request", "body": raw, "more_body": False}]
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()   # the client never goes away
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def visits(app: Any, kiosk: str, clerk: str, window: str, n: int) -> int:
    """``n`` whole visits at one window; the operations made."""
    ops = 0
    for _ in range(n):
        status, body = await call(app, "POST", f"/api/v1/centers/{C}/tickets", kiosk, {"matter": "hrss-001", "channel": "kiosk"})
        assert status == 201, body
        status, body = await call(app, "POST", f"/api/v1/centers/{C}/windows/{window}/call-next", clerk)
        assert status == 200, body
        ticket = orjson.loads(body)["ticket"]["id"]
        for action in ("start", "finish"):
            status, body = await call(app, "POST", f"/api/v1/tickets/{ticket}/{action}", clerk)
            assert status == 200, body
        ops += 4
    return ops


@contextlib.asynccontextmanager
async def open_hall(redis_url: str, database_url: str, prefix: str) -> AsyncIterator[tuple[Any, str, dict[str, str]]]:
    """The app running in this process on these services, a kiosk's token and a clerk's at each of
    ``WINDOWS``, every window open: (app, kiosk, clerk by window)."""
    settings = replace(Settings.from_env(), redis_url=redis_url, database_url=database_url, key_prefix=prefix,
                       admin_token=ADMIN_TOKEN, rate_limit_per_minute=10_000_000)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        kiosk = await create_token(app.state.pool, "device", C, device_kind="kiosk", label="load kiosk")
        clerks = {w: await create_token(app.state.pool, "staff", C, w, f"{C}-s{w[1:].zfill(2)}", label="load clerk")
                  for w in WINDOWS}
        for w, token in clerks.items():
            status, body = await call(app, "POST", f"/api/v1/centers/{C}/windows/{w}/open", token, {})
            assert status == 200, body
        yield app, kiosk, clerks


async def measure(redis_url: str, database_url: str, prefix: str, n: int, profile: bool) -> dict[str, Any]:
    async with open_hall(redis_url, database_url, prefix) as (app, kiosk, clerks):
        await asyncio.gather(*(visits(app, kiosk, clerks[w], w, 25) for w in WINDOWS))   # caches and pools warm
        await asyncio.sleep(1)
        profiler = cProfile.Profile() if profile else None
        calls, usec = await command_stats(app.state.redis, "evalsha")
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        ops = sum(await asyncio.gather(*(visits(app, kiosk, clerks[w], w, n // len(WINDOWS)) for w in WINDOWS)))
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        calls_after, usec_after = await command_stats(app.state.redis, "evalsha")
    out: dict[str, Any] = {"operations": ops, "cpu_us_per_op": round(cpu / ops * 1e6, 1),
                           "redis_script_us_per_op": round((usec_after - usec) / ops, 1),
                           "script_calls_per_op": round((calls_after - calls) / ops, 2),
                           "ops_per_s": round(ops / wall, 1), "profiled": profile}
    if profiler:
        out["own_pct"] = hottest(profiler)
    return out


async def main(n: int, profile: bool) -> None:
    with services() as (redis_url, dsn), key_prefix(redis_url, "loadpath") as prefix:
        async with fresh_database(dsn) as database_url:
            print(json.dumps(await measure(redis_url, database_url, prefix, n, profile), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="cProfile the measured visits: the hottest functions")
    args = parser.parse_args()
    run(main(args.visits, args.profile))
