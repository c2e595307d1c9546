"""What the bare baseline's CPU per request does with its rate: one baseline server process
(``baseline_app.py``, as ``loadtests/run`` starts it) asked by 32 keep-alive connections, paced
at each rate in turn (0: as fast as it answers), its CPU read from /proc over each point. The judged
capacity ratio compares CPU per request at our rate (``baseline.paced``); this series shows why:
saturated, the process never sleeps between requests, and on a machine where a wakeup is dear
that is the cheapest a request gets.

    python -m loadtests.baseline_pace [--seconds 6] 500 1000 2000 4000 0"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from loadtests.harness import key_prefix, run, server, services
from loadtests.procstat import cpu_seconds

REQUEST = b"POST /op HTTP/1.1\r\nhost: baseline\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
CONNECTIONS = 32
WARM_S = 1.5


async def _connection(host: str, port: int, per_s: float, stop: asyncio.Event, done: list[int]) -> None:
    """One keep-alive connection: a request, its answer read by Content-Length, then the next one at
    its pace (``per_s`` 0: at once)."""
    reader, writer = await asyncio.open_connection(host, port)
    due = time.perf_counter()
    try:
        while not stop.is_set():
            writer.write(REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            done[0] += 1
            if per_s:
                due += 1 / per_s
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
    finally:
        writer.close()


async def point(url: str, pid: int, rate: float, seconds: float) -> dict[str, Any]:
    """The server's CPU per request while the connections together ask ``rate`` a second."""
    host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
    stop, done = asyncio.Event(), [0]
    clients = [asyncio.create_task(_connection(host, int(port), rate / CONNECTIONS, stop, done))
               for _ in range(CONNECTIONS)]
    await asyncio.sleep(WARM_S)
    cpu0, n0, t0 = cpu_seconds(pid), done[0], time.perf_counter()
    await asyncio.sleep(seconds)
    cpu1, n1, t1 = cpu_seconds(pid), done[0], time.perf_counter()
    stop.set()
    await asyncio.gather(*clients, return_exceptions=True)
    n = n1 - n0
    return {"asked_per_s": rate or None, "per_s": round(n / (t1 - t0), 1),
            "server_busy_pct": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
            "server_cpu_us_per_request": round(1e6 * (cpu1 - cpu0) / n, 1) if n else None}


async def series(rates: list[float], seconds: float) -> None:
    """Each rate's point in turn against one bare server, printed as it is measured."""
    with services() as (redis_url, dsn), key_prefix(redis_url, "pace") as prefix, \
            server(redis_url, dsn, prefix, app="loadtests.baseline_app:create_app") as (url, proc):
        for rate in rates:
            print(json.dumps(await point(url, proc.pid, rate, seconds)), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("rates", type=float, nargs="+", help="requests a second, all connections together (0: flat out)")
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds of each point")
    args = parser.parse_args()
    run(series(args.rates, args.seconds))
