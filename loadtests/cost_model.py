"""The server's cost model: CPU per queue operation, per outgoing socket message, per incoming frame and
per idle socket per second, each fitted from a series that varies that one term and holds the rest.

    python -m loadtests.cost_model [--seconds 10] [--idle-seconds 30] [--out loadtests/results/cost_model.json]

One server process (on REDIS_URL / DATABASE_URL, or embedded services) and one center's hall-display
sockets (the lean client of ``fanout.py``, in this process). The server's CPU is read from /proc
(``procstat.cpu_seconds``) at the start and end of each point; a least-squares line through the
points gives the cost of one unit (the slope) over what the idle process costs (the intercept):

- queue operations: whole visits (issue, call-next, start, finish) at 0-400 operations a second,
  no sockets;
- outgoing messages: the same visits at a few a second with ``--fanout-sockets`` displays connected,
  each event going to every one of them; a message's cost is what an operation costs with the
  sockets above what it costs without, over the sockets it reached;
- incoming frames: the displays' heartbeats (``{"type":"heartbeat"}``) at 0-4,000 a second, nothing
  else happening;
- idle sockets: 0-4,000 displays connected, nothing happening for ``--idle-seconds`` (the server
  pings each after 15 s of silence and sweeps them all every 5 s: that is what an idle socket costs).

With the loop-lag monitor on ``/metrics`` (``event_loop_lag_seconds``, ``gc_pause_seconds``), each
point also gets the event loop's lag p99 and max (the bucket bounds they fall under) and the GC
pauses over the point. The load generator shares the machine's cores, so latencies here mean little;
CPU seconds of the server process do not depend on who else runs."""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import psutil

from loadtests.fanout import AUTH, CENTER, WINDOWS, Arrivals, connect
from loadtests.harness import ROOT, fresh_database, key_prefix, run, server, services
from loadtests.lean_ws import TEXT, client_frame
from loadtests.procstat import cpu_seconds
from loadtests.server_metrics import loop_lag, scrape_text

OPS_PER_VISIT = 4            # issue, call-next, start, finish
HEARTBEAT = client_frame(TEXT, b'{"type":"heartbeat"}')


def fit(xs: list[float], ys: list[float]) -> dict[str, float]:
    """Least-squares line y = slope * x + intercept, with r²."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    slope = sxy / sxx if sxx else 0.0
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - slope * x - intercept) ** 2 for x, y in zip(xs, ys))
    return {"slope": slope, "intercept": intercept, "r2": round(1 - ss_res / ss_tot, 3) if ss_tot else 1.0}


class Server:
    """The one server process under test: its CPU seconds so far and its ``/metrics`` text."""

    def __init__(self, url: str, pid: int, http: aiohttp.ClientSession) -> None:
        self.url, self.pid, self.http = url, pid, http

    async def metrics(self) -> str:
        async with self.http.get("/metrics") as r:
            return await r.text()

    async def point(self, seconds: float, work: Callable[[float], Awaitable[float]]) -> dict[str, float]:
        """Run ``work(seconds)`` (it returns how many units it did) and measure the server meanwhile:
        units a second, the server's CPU (% of one core), and the loop's lag when it reports it."""
        before = await self.metrics()
        cpu0, t0 = cpu_seconds(self.pid), time.perf_counter()
        units = await work(seconds)
        cpu1, t1 = cpu_seconds(self.pid), time.perf_counter()
        out = {"units_per_s": round(units / (t1 - t0), 1), "server_cpu_pct": round(100 * (cpu1 - cpu0) / (t1 - t0), 2)}
        out.update(loop_lag(scrape_text(before), scrape_text(await self.metrics())))
        return out


class Visits:
    """Whole visits at one center's windows, paced: each takes a free window for its four steps."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.free: asyncio.Queue[str] = asyncio.Queue()
        for w in WINDOWS:
            self.free.put_nowait(w)
        self.ops = 0
        self.errors = 0

    async def _post(self, path: str, body: dict | None = None) -> dict | None:
        async with self.http.post(path, json=body) as r:
            if r.status >= 300:
                self.errors += 1
                return None
            self.ops += 1
            return await r.json()

    async def visit(self) -> None:
        w = await self.free.get()
        try:
            if await self._post(f"/api/v1/centers/{CENTER}/tickets", {"matter": "hrss-001"}) is None:
                return
            called = await self._post(f"/api/v1/centers/{CENTER}/windows/{w}/call-next")
            if called is None:
                return
            path = f"/api/v1/tickets/{called['ticket']['id']}"
            if await self._post(path + "/start") is not None:
                await self._post(path + "/finish")
        finally:
            self.free.put_nowait(w)

    def at(self, ops_per_s: float) -> Callable[[float], Awaitable[float]]:
        async def work(seconds: float) -> float:
            start = self.ops
            if ops_per_s <= 0:
                await asyncio.sleep(seconds)
                return 0.0
            await paced(ops_per_s / OPS_PER_VISIT, seconds, self.visit)
            return float(self.ops - start)
        return work


async def paced(per_s: float, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
    """Start ``job`` ``per_s`` times a second for ``seconds`` (open loop), then wait for them all."""
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task] = set()
    t0 = loop.time()
    n = 0
    while (due := t0 + n / per_s) < t0 + seconds:
        await asyncio.sleep(max(0.0, due - loop.time()))
        task = asyncio.create_task(job())
        running.add(task)
        task.add_done_callback(running.discard)
        n += 1
    await asyncio.gather(*running)


def arrivals_during(arrivals: Arrivals, work: Callable[[float], Awaitable[float]]) -> Callable[[float], Awaitable[float]]:
    """The same work, counted in the messages the sockets received (after a short drain)."""
    async def counted(seconds: float) -> float:
        before = sum(len(v) for v in arrivals.times.values())
        await work(seconds)
        await asyncio.sleep(0.3)
        return float(sum(len(v) for v in arrivals.times.values()) - before)
    return counted


def heartbeats(transports: list[asyncio.Transport], per_s: float) -> Callable[[float], Awaitable[float]]:
    """Heartbeat frames from the sockets in turn, ``per_s`` a second in ticks of 10 ms."""
    async def work(seconds: float) -> float:
        if per_s <= 0:
            await asyncio.sleep(seconds)
            return 0.0
        loop = asyncio.get_running_loop()
        t0, sent, i = loop.time(), 0, 0
        while (now := loop.time()) < t0 + seconds:
            due = int((now - t0) * per_s)
            for _ in range(due - sent):
                transports[i % len(transports)].write(HEARTBEAT)
                i += 1
            sent = due
            await asyncio.sleep(0.01)
        return float(sent)
    return work


async def idle(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return 0.0


async def sockets(url: str, arrivals: Arrivals, have: list[asyncio.Transport], want: int) -> None:
    """Open display sockets (100 at a time) until ``have`` holds ``want``; close the surplus."""
    path = f"/ws/centers/{CENTER}/display"
    while len(have) < want:
        have += await asyncio.gather(*(connect(url, path, arrivals) for _ in range(min(100, want - len(have)))))
    while len(have) > want:
        have.pop().close()
    await asyncio.sleep(3)   # the openings' own work (snapshots, presence) out of the next point


def term(name: str, unit: str, points: list[dict[str, float]], x: str, less: float = 0.0) -> dict:
    """The fitted cost of one unit in µs of server CPU (the slope of CPU over units a second), less
    ``less`` µs a unit already accounted to another term; and each point's own cost of a unit over
    the first point's (no units), which shows when the cost is not linear (batching)."""
    line = fit([p[x] for p in points], [p["server_cpu_pct"] * 1e4 for p in points])   # µs of CPU a second
    for p in points[1:]:
        p["cpu_us_each"] = round((p["server_cpu_pct"] - points[0]["server_cpu_pct"]) * 1e4 / p[x] - less, 1)
    return {"term": name, "unit": unit, "cpu_us": round(line["slope"] - less, 2), "slope_us": round(line["slope"], 2),
            "intercept_cpu_pct": round(line["intercept"] / 1e4, 2), "r2": line["r2"], "points": points}


async def main(seconds: float, idle_s: float, fanout_sockets: int, out: Path) -> None:
    result: dict = {"cpus": psutil.cpu_count(), "load_avg_before": [round(x, 2) for x in psutil.getloadavg()]}
    with services() as (redis_url, dsn):
        async with fresh_database(dsn) as db:
            with key_prefix(redis_url, "cm") as prefix, server(redis_url, db, prefix) as (url, proc):
                conn = aiohttp.TCPConnector(limit=64)
                async with aiohttp.ClientSession(url, headers=AUTH, connector=conn,
                                                 timeout=aiohttp.ClientTimeout(total=30)) as http:
                    for i, w in enumerate(WINDOWS):
                        async with http.post(f"/api/v1/centers/{CENTER}/windows/{w}/open",
                                             json={"staff_id": f"{CENTER}-s0{i + 1}"}) as r:
                            assert r.status == 200, await r.text()
                    srv, visits, arrivals = Server(url, proc.pid, http), Visits(http), Arrivals()
                    await srv.point(3, visits.at(100))   # warm: the first requests' imports and caches
                    terms = []

                    ops = [await srv.point(seconds, visits.at(r)) for r in (0, 100, 200, 400)]
                    per_op = term("queue operation", "operation (issue, call-next, start, finish)", ops, "units_per_s")
                    terms.append(per_op)
                    print(f"queue operation: {per_op['cpu_us']} µs", flush=True)

                    held: list[asyncio.Transport] = []
                    await sockets(url, arrivals, held, fanout_sockets)
                    sent = []
                    for r in (0, 8, 16, 32):
                        done = visits.ops
                        p = await srv.point(seconds, arrivals_during(arrivals, visits.at(r)))
                        p["ops_per_s"] = round((visits.ops - done) / seconds, 1)
                        sent.append(p)
                    # per message: what the events cost above their operations' own share, per message
                    ops_share = sum(p["ops_per_s"] for p in sent) * per_op["cpu_us"]
                    msg_total = sum(p["units_per_s"] for p in sent)
                    per_msg = term("outgoing socket message", f"message (one event to one of {fanout_sockets} sockets)",
                                   sent, "units_per_s", less=ops_share / msg_total if msg_total else 0.0)
                    terms.append(per_msg)
                    print(f"outgoing message: {per_msg['cpu_us']} µs", flush=True)

                    frames = [await srv.point(seconds, heartbeats(held, r)) for r in (0, 1000, 2000, 4000)]
                    terms.append(term("incoming frame", "heartbeat frame", frames, "units_per_s"))
                    print(f"incoming frame: {terms[-1]['cpu_us']} µs", flush=True)

                    still = []
                    for n in (0, 1000, 2000, 4000):
                        await sockets(url, arrivals, held, n)
                        p = await srv.point(idle_s, idle)
                        p["sockets"] = n
                        still.append(p)
                    terms.append(term("idle socket", "socket held for a second", still, "sockets"))
                    print(f"idle socket: {terms[-1]['cpu_us']} µs a second", flush=True)
                    for t in held:
                        t.close()
                    report({**result, "errors": visits.errors, "terms": terms}, out)


def report(result: dict, out: Path) -> None:
    """The table, and ``out`` written, as soon as the figures are in (dropping the database can wait
    on a checkpoint of the shared PostgreSQL for minutes)."""
    terms = result["terms"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\n{'term':<26}{'server CPU, µs':>16}{'r²':>7}  {'each, by point':<26} unit")
    for t in terms:
        each = " / ".join(f"{p['cpu_us_each']:.0f}" for p in t["points"][1:])
        print(f"{t['term']:<26}{t['cpu_us']:>16.2f}{t['r2']:>7.3f}  {each:<26} {t['unit']}")
    print(f"\nidle server: {terms[0]['intercept_cpu_pct']} % of a core; errors: {result['errors']}; written to {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="each point of the busy series")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="each point of the idle-socket series")
    parser.add_argument("--fanout-sockets", type=int, default=250, help="displays reached by each event")
    parser.add_argument("--out", type=Path, default=ROOT / "loadtests" / "results" / "cost_model.json")
    a = parser.parse_args()
    run(main(a.seconds, a.idle_seconds, a.fanout_sockets, a.out))
