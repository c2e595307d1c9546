"""CPU and memory of the run's processes, sampled once a second in a thread: the servers, the load
generators, Redis and PostgreSQL (when they run on this machine). CPU is in % of one core."""
from __future__ import annotations

import bisect
import threading
import time
from urllib.parse import urlsplit

import psutil


def _tree(pid: int) -> list[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.Error:
        return []


def listener_pid(url: str, default_port: int) -> int | None:
    """The process listening on a service URL's loopback port, if it is on this machine."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", None):
        return None
    port = parts.port or default_port
    try:
        for c in psutil.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
                return c.pid
    except psutil.Error:
        return None
    return None


class Sampler:
    """Per group of processes (each given by its root pid, children included): time series of CPU
    seconds used and of resident memory."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.groups: dict[str, list[int]] = {}
        self.samples: dict[str, list[tuple[float, float, float]]] = {}   # (time, cpu seconds, rss MiB)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, group: str, *pids: int | None) -> None:
        self.groups.setdefault(group, []).extend(p for p in pids if p)

    def _sample(self) -> None:
        now = time.time()
        for group, roots in list(self.groups.items()):
            cpu = rss = 0.0
            for proc in (p for root in roots for p in _tree(root)):
                try:
                    t = proc.cpu_times()
                    cpu += t.user + t.system
                    rss += proc.memory_info().rss / 2**20
                except psutil.Error:
                    continue
            self.samples.setdefault(group, []).append((now, cpu, rss))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> "Sampler":
        self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True, name="procstat")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def window(self, start: float, end: float) -> dict[str, dict[str, float]]:
        """Average CPU (% of one core) and peak memory of each group between two moments."""
        out = {}
        for group, series in self.samples.items():
            times = [s[0] for s in series]
            i = max(0, bisect.bisect_left(times, start) - 1)
            j = min(len(series) - 1, bisect.bisect_right(times, end))
            if j <= i:
                continue
            (t0, c0, _), (t1, c1, _) = series[i], series[j]
            out[group] = {"cpu_pct": round(100 * (c1 - c0) / max(t1 - t0, 1e-9), 1),
                          "rss_mib": round(max(s[2] for s in series[i:j + 1]), 1)}
        return out
