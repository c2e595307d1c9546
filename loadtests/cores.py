"""``loadtests/run --pin``: the servers on some cores, the load generators on the others, so that
neither's figures depend on how the kernel happened to share the cores between them. The servers'
side is what a run measures: the server processes, and the Redis and PostgreSQL the run started
itself (embedded ones; the machine's own, given by REDIS_URL / DATABASE_URL, are left where they
are and float over every core). The generators' side: Locust's master and workers and the runner
itself (its SMS stand-in and pollers). Affinity is inherited, so a process pinned before it forks
(PostgreSQL's backends, Locust's workers) has its children pinned too. Pinned or not, the screens'
generators run as batch processes (``as_batch``; ``--screens-scheduling normal`` not). ``--neighbour``
adds another tenant of the machine to the load phase (``neighbour``)."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Cores:
    servers: tuple[int, ...]
    generators: tuple[int, ...]

    @classmethod
    def parse(cls, spec: str, available: int | None = None) -> "Cores":
        """``auto`` (the first half of the cores for the servers, the rest for the generators; one
        each on two cores) or ``SERVERS:GENERATORS`` as taskset lists, e.g. ``0:1`` or ``0-3:4-7``."""
        n = available or os.cpu_count() or 1
        if spec == "auto":
            if n < 2:
                raise ValueError("pinning needs two cores at least")
            half = n // 2
            return cls(tuple(range(half)), tuple(range(half, n)))
        servers, sep, generators = spec.partition(":")
        if not sep:
            raise ValueError(f"--pin takes auto or SERVERS:GENERATORS, not {spec!r}")
        out = cls(_cpu_list(servers), _cpu_list(generators))
        if set(out.servers) & set(out.generators) or max(out.servers + out.generators) >= n:
            raise ValueError(f"--pin {spec}: two disjoint sets of this machine's {n} cores")
        return out

    def as_dict(self) -> dict[str, list[int]]:
        return {"servers": list(self.servers), "generators": list(self.generators)}


def _cpu_list(text: str) -> tuple[int, ...]:
    cpus: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus += range(int(first), int(last or first) + 1)
    if not cpus:
        raise ValueError("an empty set of cores")
    return tuple(sorted(set(cpus)))


def taskset(cores: tuple[int, ...]) -> list[str]:
    """The command prefix that starts a process (and whatever it forks) on ``cores``."""
    return ["taskset", "-c", ",".join(map(str, cores))]


def as_batch() -> list[str]:
    """The command prefix that starts a process (and whatever it forks) as ``SCHED_BATCH``: woken, it
    waits for the running process's turn to end instead of taking its core (``runner.load_generators``)."""
    return ["chrt", "--batch", "0"]


# Busy for ``busy`` seconds of every ``period``: the CPU a neighbour takes, and how often it is woken.
_NEIGHBOUR = """import sys, time
busy, period = float(sys.argv[1]) / 1000, float(sys.argv[2]) / 1000
while True:
    t = time.perf_counter()
    while time.perf_counter() - t < busy:
        pass
    time.sleep(period - busy)
"""


@contextlib.contextmanager
def neighbour(busy_ms: float, period_ms: float) -> Iterator[int]:
    """A process of the ordinary policy busy ``busy_ms`` of every ``period_ms`` while inside (its pid):
    another tenant of the machine, for reading on a quiet machine what a busy one does (``--neighbour``;
    3:10, ~30 % of a core woken 100 times a second, put the city's cores where a slow day's were). It
    starts where the runner runs: with ``--pin``, on the generators' cores."""
    proc = subprocess.Popen([sys.executable, "-c", _NEIGHBOUR, str(busy_ms), str(period_ms)])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def pin(pid: int, cores: tuple[int, ...]) -> None:
    """Every thread of a running process and of its descendants onto ``cores`` (sched_setaffinity
    acts on one thread: a running Redis or uvicorn already has several)."""
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return
    for proc in procs:
        for task in Path(f"/proc/{proc.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(task.name), cores)
