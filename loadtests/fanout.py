"""Call-to-screen latency with 1,000 display sockets on one server process, and the server's memory
per 1,000 idle sockets.

    python -m loadtests.fanout [--sockets 1000] [--calls 100]

Starts one server (on REDIS_URL / DATABASE_URL, or embedded services), connects the display sockets
to one center, then makes the calls one at a time. For each call it takes the event's ``at`` (the
server's clock when the Lua script ran) and the arrival of that event at every socket, and prints
p50/p99 of the time to the LAST socket (and to the first), plus the server's RSS before and after
the sockets connected, its CPU per message sent (each call's two events to every socket; the calls'
own HTTP work included) and its garbage collections meanwhile, by generation. The sockets here are
a lean client (raw frames, no per-message library work), so the figure is the server's, not the
load generator's; it shares the machine's cores."""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import defaultdict
from urllib.parse import urlencode, urlsplit

import httpx
import orjson
import psutil

from loadtests.harness import ADMIN_TOKEN, fresh_database, key_prefix, percentile, run, server, services
from loadtests.lean_ws import PING, PONG, TEXT, client_frame, handshake, take_frame

CENTER = "jingansi"
WINDOWS = ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"]
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def now_ms() -> float:
    return time.time_ns() / 1e6


class Arrivals:
    """When each (event type, ticket id) reached each socket."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.at: dict[tuple[str, str], int] = {}
        self.snapshots = 0
        self.waiters: dict[tuple[str, str], tuple[int, asyncio.Future]] = {}

    def event(self, msg: dict, arrived: float) -> None:
        ticket = msg.get("ticket") or {}
        k = (msg["type"], ticket.get("id", ""))
        self.times[k].append(arrived)
        self.at[k] = msg["at"]
        waiter = self.waiters.get(k)
        if waiter and len(self.times[k]) >= waiter[0] and not waiter[1].done():
            waiter[1].set_result(None)

    async def all_of(self, k: tuple[str, str], n: int, timeout: float = 30) -> None:
        if len(self.times[k]) >= n:
            return
        fut = asyncio.get_running_loop().create_future()
        self.waiters[k] = (n, fut)
        await asyncio.wait_for(fut, timeout)


class LeanSocket(asyncio.Protocol):
    """A websocket client that does the handshake and reads unmasked server frames by hand, answers
    protocol pings, and timestamps each text message the moment its bytes arrive."""

    def __init__(self, request: bytes, arrivals: Arrivals, ready: asyncio.Future) -> None:
        self.request = request
        self.arrivals = arrivals
        self.ready = ready
        self.buf = bytearray()
        self.handshaken = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        arrived = now_ms()
        self.buf += data
        if not self.handshaken:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buf.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(RuntimeError(bytes(self.buf[:100]).decode(errors="replace")))
                return
            del self.buf[:end + 4]
            self.handshaken = True
        self._frames(arrived)

    def _frames(self, arrived: float) -> None:
        while (frame := take_frame(self.buf)) is not None:
            opcode, payload = frame
            if opcode == TEXT:
                self._message(orjson.loads(payload), arrived)
            elif opcode == PING:
                assert self.transport is not None
                self.transport.write(client_frame(PONG, payload))

    def _message(self, msg: dict, arrived: float) -> None:
        kind = msg.get("type")
        if kind == "snapshot":
            self.arrivals.snapshots += 1
            if not self.ready.done():
                self.ready.set_result(None)
        elif kind != "ping" and "at" in msg:
            self.arrivals.event(msg, arrived)


async def connect(url: str, path: str, arrivals: Arrivals) -> asyncio.Transport:
    parts = urlsplit(url)
    target = f"{path}?{urlencode({'token': ADMIN_TOKEN})}"
    request = handshake(parts.netloc, target)
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    transport, _ = await loop.create_connection(lambda: LeanSocket(request, arrivals, ready),
                                                parts.hostname, parts.port)
    await asyncio.wait_for(ready, 30)
    return transport  # type: ignore[return-value]


def gc_pauses(metrics: str) -> dict[str, tuple[float, float]]:
    """The server's garbage collections so far by generation (``gc_pause_seconds`` on /metrics): how
    many, and their seconds in all."""
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for line in metrics.splitlines():
        for suffix, i in (("_count", 0), ("_sum", 1)):
            head = f"gc_pause_seconds{suffix}{{generation=\""
            if line.startswith(head):
                generation, value = line[len(head):].split('"} ')
                out[generation][i] = float(value)
    return {g: (n, s) for g, (n, s) in out.items()}


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


async def settle_rss(pid: int) -> float:
    """RSS once it stops moving (the allocator returns what the openings used)."""
    last = rss_mib(pid)
    for _ in range(10):
        await asyncio.sleep(0.5)
        now = rss_mib(pid)
        if abs(now - last) < 0.2:
            return now
        last = now
    return last


async def main(sockets: int, calls: int) -> None:
    with services() as (redis_url, dsn):
        async with fresh_database(dsn) as db:
            with key_prefix(redis_url, "f") as prefix, server(redis_url, db, prefix) as (url, proc):
                async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as http:
                    for i, w in enumerate(WINDOWS):
                        r = await http.post(f"/api/v1/centers/{CENTER}/windows/{w}/open",
                                            json={"staff_id": f"{CENTER}-s0{i + 1}"})
                        assert r.status_code == 200, r.text
                    for _ in range(calls):
                        assert (await http.post(f"/api/v1/centers/{CENTER}/tickets",
                                                json={"matter": "hrss-001"})).status_code == 201
                    arrivals = Arrivals()
                    path = f"/ws/centers/{CENTER}/display"
                    warm = await connect(url, path, arrivals)  # first-socket costs out of the baseline
                    warm.close()
                    rss_before = await settle_rss(proc.pid)
                    t0 = time.perf_counter()
                    transports: list[asyncio.Transport] = []
                    for start in range(0, sockets, 100):
                        transports += await asyncio.gather(*(connect(url, path, arrivals)
                                                             for _ in range(min(100, sockets - start))))
                    connect_s = time.perf_counter() - t0
                    rss_idle = await settle_rss(proc.pid)

                    to_last: list[float] = []
                    to_first: list[float] = []
                    gc0 = gc_pauses((await http.get("/metrics")).text)
                    cpu0 = psutil.Process(proc.pid).cpu_times()
                    for i in range(calls):
                        w = WINDOWS[i % len(WINDOWS)]
                        r = await http.post(f"/api/v1/centers/{CENTER}/windows/{w}/call-next")
                        assert r.status_code == 200, r.text
                        tid = r.json()["ticket"]["id"]
                        k = ("ticket.called", tid)
                        await arrivals.all_of(k, sockets)
                        times = arrivals.times[k]
                        assert len(times) == sockets, "an event reached some socket twice or not at all"
                        to_last.append(max(times) - arrivals.at[k])
                        to_first.append(min(times) - arrivals.at[k])
                        assert (await http.post(f"/api/v1/tickets/{tid}/no-show")).status_code == 200
                        await arrivals.all_of(("ticket.no_show", tid), sockets)
                        await asyncio.sleep(0.02)
                    cpu1 = psutil.Process(proc.pid).cpu_times()
                    gc1 = gc_pauses((await http.get("/metrics")).text)
                    status = (await http.get("/api/v1/ops/realtime")).json()
                    for t in transports:
                        t.close()

        cpu_s = cpu1.user + cpu1.system - cpu0.user - cpu0.system
        print(json.dumps({
            "sockets": sockets, "calls": calls, "cpus": psutil.cpu_count(),
            "connect_all_s": round(connect_s, 2),
            "call_to_last_socket_ms": {"p50": round(percentile(to_last, 50), 1), "p99": round(percentile(to_last, 99), 1),
                                       "max": round(max(to_last), 1)},
            "call_to_first_socket_ms": {"p50": round(percentile(to_first, 50), 1),
                                        "p99": round(percentile(to_first, 99), 1)},
            "server_rss_mib": {"before_sockets": round(rss_before, 1), "with_idle_sockets": round(rss_idle, 1),
                               "per_1000_idle_sockets": round((rss_idle - rss_before) * 1000 / sockets, 1)},
            "server_cpu_s_during_calls": round(cpu_s, 2),
            "server_cpu_us_per_message": round(cpu_s * 1e6 / (2 * calls * sockets), 2),
            "gc_during_calls": {g: {"pauses": int(n1 - gc0.get(g, (0, 0))[0]),
                                    "total_ms": round((s1 - gc0.get(g, (0, 0))[1]) * 1000, 1)}
                                for g, (n1, s1) in sorted(gc1.items())},
            "dropped": status["dropped"],
        }, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=100)
    a = parser.parse_args()
    run(main(a.sockets, a.calls))
