"""What the users of one Locust process share: the plan, which slot of it each user takes, the tickets
just issued (for residents), and the tallies written out for the runner when the test stops."""
from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent.event
import redis
from locust.env import Environment

from loadtests.lean_http import LeanPool
from loadtests.plan import Plan
from loadtests.profiles import did_nothing
from queue_server.engine.connection import sync_client

_plan: Plan | None = None
_slots: redis.Redis | None = None
RECENT: deque[str] = deque(maxlen=20_000)   # ticket ids issued by this process, newest last
OPEN_FOR_BUSINESS = gevent.event.Event()     # set by the master once the screens are up
PHASE = os.environ.get("LOAD_PHASE", "load")
# A phase's users may run as two Locust runs side by side (runner.py): the screens, and the desks that
# follow the screens' window (``LOAD_PART=desks``); each part's files carry its name.
PART = os.environ.get("LOAD_PART", "")
STEM = f"{PHASE}-{PART}" if PART else PHASE
_kept_alive: dict[str, LeanPool] = {}


def plan() -> Plan:
    global _plan
    if _plan is None:
        _plan = Plan.read(Path(os.environ["LOAD_PLAN"]))
        if os.environ.get("LOAD_SERVERS"):   # a phase against other servers (the bare baseline)
            _plan.servers = os.environ["LOAD_SERVERS"].split(",")
    return _plan


def worker_index(env: Environment) -> int:
    return getattr(env.runner, "worker_index", 0) or 0


def slot(env: Environment, kind: str) -> int:
    """This user's index among all users of its kind in this phase, across the run's processes: drawn
    from a counter in Redis, so no two users share a device or a window however Locust spreads them."""
    global _slots
    if _slots is None:
        _slots = sync_client(plan().slots["redis_url"])   # one Redis or a cluster
    return int(_slots.incr(f"{plan().slots['key']}:{PHASE}:{kind}")) - 1


class Tally:
    """Counters of this process; raw call->screen latencies kept whole for exact percentiles, and each
    measured request as (when it was answered, ms, name, the server's URL): the slowest come in
    episodes, which the summary finds (summary.episodes)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0
        self.peak = 0
        self.low = 0
        self.held: int | None = None    # sockets open when the measured window ended
        self.counts: dict[str, int] = defaultdict(int)
        self.call_ms: dict[str, list[int]] = defaultdict(list)
        self.requests: list[tuple[float, float, str, str]] = []

    def opened(self) -> None:
        self.open += 1
        self.peak = max(self.peak, self.open)
        self.counts["connects"] += 1

    def closed(self) -> None:
        self.open -= 1
        if self.held is None:
            self.low = min(self.low, self.open)

    def freeze(self) -> None:
        """The window is over: what follows (users stopping) is not a drop, and nothing after it is
        measured — thousands of greenlets being stopped delay whatever else the process reads."""
        self.held = self.open

    @property
    def measuring(self) -> bool:
        return self.held is None

    def call(self, label: str, ms: float) -> None:
        if self.measuring:
            self.call_ms[label].append(round(ms))

    def answered(self, name: str, ms: float, server: str) -> None:
        if self.measuring:
            self.requests.append((round(time.time(), 4), round(ms, 2), name, server))

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] += n

    def reset(self) -> None:
        """After the ramp: latencies and counts of the measured phase only (sockets stay as they are)."""
        self.counts = defaultdict(int)
        self.call_ms = defaultdict(list)
        self.requests = []
        self.peak = self.low = self.open

    def dump(self, env: Environment) -> None:
        out = Path(plan().out_dir) / f"worker-{STEM}-{worker_index(env)}.json"
        out.write_text(json.dumps({"held": self.held if self.held is not None else self.open, "low": self.low, "peak": self.peak, "counts": self.counts,
                                   "call_ms": self.call_ms, "requests": self.requests}), encoding="utf-8")


TALLY = Tally()


def fire(env: Environment, kind: str, name: str, ms: float, length: int = 0, exc: Any = None) -> None:
    """Report one measurement through Locust's request event, as its HTTP users do."""
    env.events.request.fire(request_type=kind, name=name, response_time=ms, response_length=length,
                            exception=exc, context={})


class Refused(Exception):
    """An answer outside the statuses the user expected: Locust counts it as a failure."""


def timed(environment: Any, name: str, call: Callable[[], tuple[int, bytes]], ok: tuple[int, ...],
          method: str = "POST", server: str = "") -> tuple[int, bytes]:
    """Make a request (``call()`` gives status and body) and report it to Locust under ``name`` — a 204,
    which did nothing, apart under ``did_nothing(name)``; a status outside ``ok`` or a connection
    failure (status 0, no body) as a failure — and, answered, to the tally with ``server``, the URL it
    went to. Returns the status and the body."""
    t0 = time.perf_counter()
    try:
        status, body = call()
    except Exception as exc:  # noqa: BLE001 - refused, reset or timed out: counted, as Locust's clients do
        if TALLY.measuring:
            fire(environment, method, name, (time.perf_counter() - t0) * 1000, exc=exc)
        return 0, b""
    ms = (time.perf_counter() - t0) * 1000
    if not TALLY.measuring:   # answered while the users stop: after the window
        return status, body
    if status not in ok:
        fire(environment, method, name, ms, len(body), exc=Refused(f"{status} {body[:200].decode(errors='replace')}"))
        return status, body
    counted = did_nothing(name) if status == 204 else name
    fire(environment, method, counted, ms, len(body))
    TALLY.answered(counted, ms, server)
    return status, body


def kept_alive(server: str) -> LeanPool:
    """Keep-alive connections to each server that this process's tablets and SMS replies share, as
    many as are sending at once. A real tablet has its own connection (with a pool of 32, ratings at
    the city's peak queued in the generator for seconds, and that wait was counted as the server's);
    Twilio's posts reach the server through the proxy's kept-alive upstream connections
    (deploy/nginx.conf): an SMS user's own connection was opened afresh for a reply 4 s or more after
    its last, and the new connection's accept was timed as the reply."""
    if server not in _kept_alive:
        _kept_alive[server] = LeanPool(server)
    return _kept_alive[server]
