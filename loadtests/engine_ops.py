"""Issue and call-next throughput against one server process, the persister's lag under that load,
and the same load shape against the bare baseline endpoint, all in one run.

    python -m loadtests.engine_ops [--seconds 8] [--concurrency 32] [--durability redis,record]

With several durability modes (QUEUE_DURABILITY, docs/durability.md) each gets its own server,
database and keys in turn, under the same load. Prints a JSON summary; figures are relative to the
baseline measured in the same run, and each mode's to the first mode's."""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import aiohttp

from loadtests.harness import ADMIN_TOKEN, fresh_database, key_prefix, percentile, run, server, services

from queue_server.config import DURABILITY_MODES

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def session(url: str, concurrency: int, headers: dict[str, str] | None = None) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(url, headers=headers, connector=aiohttp.TCPConnector(limit=concurrency),
                                 timeout=aiohttp.ClientTimeout(total=30))


async def drive(seconds: float, concurrency: int, op: Callable[[aiohttp.ClientSession, int], Awaitable[bool]],
                client: aiohttp.ClientSession) -> dict:
    """Run ``op`` from ``concurrency`` workers for ``seconds``; op returns False when it has no work."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                more = await op(client, n)
            except (aiohttp.ClientError, AssertionError):
                errors += 1
                continue
            latencies.append((time.perf_counter() - t0) * 1000)
            if not more:
                return

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    took = time.perf_counter() - t0
    return {"ops": len(latencies), "ops_per_s": round(len(latencies) / took, 1), "errors": errors,
            "p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2)}


async def get_json(client: aiohttp.ClientSession, path: str) -> dict:
    async with client.get(path) as r:
        return await r.json()


async def post(client: aiohttp.ClientSession, path: str, body: dict | None = None) -> tuple[int, dict | None]:
    async with client.post(path, json=body) as r:
        return r.status, (await r.json() if r.status != 204 else None)


async def watch_lag(client: aiohttp.ClientSession, stop: asyncio.Event, out: dict) -> None:
    while not stop.is_set():
        centers = (await get_json(client, "/api/v1/ops/persister"))["centers"]
        out["max_lag_ms"] = max([out.get("max_lag_ms", 0)] + [c["lag_ms"] for c in centers.values()])
        out["max_unrecorded"] = max([out.get("max_unrecorded", 0)] + [c["pending"] + c["undelivered"] for c in centers.values()])
        await asyncio.sleep(0.25)


async def measure(redis_url: str, dsn: str, seconds: float, concurrency: int, durability: str) -> dict:
    """Issue, then call-next with a no-show for each, on a fresh database and keys; then the
    persister's lag under that load and how long it took to drain after."""
    out: dict = {}
    async with fresh_database(dsn) as db:
        with key_prefix(redis_url, "l") as prefix, \
                server(redis_url, db, prefix, extra_env={"QUEUE_DURABILITY": durability}) as (url, _):
            async with session(url, concurrency, AUTH) as client:
                centers = [c["code"] for c in (await get_json(client, "/api/v1/centers"))["centers"]]
                windows = [(c, f"w{i}") for c in centers for i in range(1, 9)]
                for i, (c, w) in enumerate(windows):
                    await post(client, f"/api/v1/centers/{c}/windows/{w}/open", {"staff_id": f"{c}-s0{i % 8 + 1}"})
                lag: dict = {}
                stop = asyncio.Event()
                watcher = asyncio.create_task(watch_lag(client, stop, lag))

                async def issue(c: aiohttp.ClientSession, n: int) -> bool:
                    status, _ = await post(c, f"/api/v1/centers/{centers[n % len(centers)]}/tickets", {"matter": "hrss-001"})
                    assert status == 201
                    return True
                out["issue"] = await drive(seconds, concurrency, issue, client)

                mine = {n: windows[n::concurrency] for n in range(concurrency)}
                turn = {n: 0 for n in range(concurrency)}

                async def call_next(c: aiohttp.ClientSession, n: int) -> bool:
                    if not mine[n]:
                        return False
                    center, w = mine[n][turn[n] % len(mine[n])]
                    turn[n] += 1
                    status, called = await post(c, f"/api/v1/centers/{center}/windows/{w}/call-next")
                    if status == 204:
                        mine[n].remove((center, w))
                        return bool(mine[n])
                    assert status == 200 and called, status
                    assert (await post(c, f"/api/v1/tickets/{called['ticket']['id']}/no-show"))[0] == 200
                    return True
                out["call_next_with_no_show"] = await drive(seconds, concurrency, call_next, client)
                stop.set()
                await watcher
                t0 = time.perf_counter()
                while True:
                    centers_lag = (await get_json(client, "/api/v1/ops/persister"))["centers"]
                    if all(c["pending"] + c["undelivered"] == 0 for c in centers_lag.values()):
                        break
                    await asyncio.sleep(0.05)
                lag["drained_after_load_ms"] = round((time.perf_counter() - t0) * 1000)
                out["persister"] = lag
    return out


async def main(seconds: float, concurrency: int, modes: list[str]) -> None:
    with services() as (redis_url, dsn):
        summary: dict = {"seconds": seconds, "concurrency": concurrency}
        with key_prefix(redis_url, "b") as prefix, server(redis_url, dsn, prefix, app="loadtests.baseline_app:create_app") as (url, _):
            async with session(url, concurrency) as client:
                async def baseline(c: aiohttp.ClientSession, n: int) -> bool:
                    assert (await post(c, "/op", {"matter": "hrss-001"}))[0] == 200
                    return True
                summary["baseline"] = await drive(seconds, concurrency, baseline, client)
        base = summary["baseline"]["ops_per_s"]
        for mode in modes:
            summary[mode] = m = await measure(redis_url, dsn, seconds, concurrency, mode)
            m["issue_vs_baseline"] = round(m["issue"]["ops_per_s"] / base, 2)
            if mode != modes[0]:
                first = summary[modes[0]]
                m[f"vs_{modes[0]}"] = {op: {"ops_per_s": round(m[op]["ops_per_s"] / first[op]["ops_per_s"], 2),
                                            "p99_ms": round(m[op]["p99_ms"] / first[op]["p99_ms"], 2)}
                                       for op in ("issue", "call_next_with_no_show")}
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--durability", default="redis",
                        help="comma-separated QUEUE_DURABILITY modes to measure in turn (redis,record)")
    a = parser.parse_args()
    modes = a.durability.split(",")
    for mode in modes:
        if mode not in DURABILITY_MODES:
            parser.error(f"--durability: {mode!r} is not one of {', '.join(DURABILITY_MODES)}")
    run(main(a.seconds, a.concurrency, modes))
