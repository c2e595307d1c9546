"""CPU and memory of the run's processes, sampled once a second in a thread: the servers, the load
generators, Redis and PostgreSQL (when they run on this machine). CPU is in % of one core, and so is
the time each group's threads were ready to run but waited for a core (the scheduler's run-queue
delay, /proc/PID/task/*/schedstat): on two cores shared by servers, generators, Redis and
PostgreSQL, the part of a request's latency no profile of the server shows. Beside
them, the commands Redis served (``INFO commandstats``, every node of a cluster): a count that the
machine's speed does not move, where CPU per operation does from one day to the next. And the whole
machine's cores: busy, idle, and stolen by the hypervisor (a virtual machine's cores may be another
guest's half the time, and a run's figures then say more about its neighbours than about it)."""
from __future__ import annotations

import bisect
import contextlib
import threading
import time
import os
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import psutil


def every_process() -> dict[int, tuple[int, str, int]]:
    """Every process on the machine from one pass over /proc (one read of /proc/PID/stat each: ~200 of
    them take ~3 ms): its parent, its name and the CPU ticks it has used."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:   # gone since the listing
                continue
            name_ends = stat.rfind(b")")
            fields = stat[name_ends + 2:].split()
            out[int(name)] = (int(fields[1]), stat[stat.find(b"(") + 1:name_ends].decode(errors="replace"),
                              int(fields[11]) + int(fields[12]))
    return out


def children_by_parent() -> dict[int, list[int]]:
    """Every process's children, from one pass over /proc. psutil's ``children`` makes that pass over
    every process of the machine at each call: asked once a group each second (and by the runner's
    wait for each Locust master), it was most of what the runner spent on the cores the run measures."""
    out: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in every_process().items():
        out.setdefault(ppid, []).append(pid)
    return out


def _tree(pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """The process and its descendants (``children``: a pass of ``children_by_parent`` to read them
    from; one is made without it)."""
    children = children_by_parent() if children is None else children
    tree, i = [pid], 0
    while i < len(tree):
        tree += children.get(tree[i], [])
        i += 1
    return tree


def _syscalls(proc: psutil.Process) -> int:
    """Read and write system calls so far (0 where another user's process keeps them from us)."""
    try:
        io = proc.io_counters()
    except psutil.Error:
        return 0
    return io.read_count + io.write_count


def _scheduled(proc: psutil.Process) -> tuple[float, int]:
    """Seconds the process's threads have spent ready to run but waiting for a core, and the times
    they were put on one (each wakeup, each return after being preempted), so far (0 where the kernel
    keeps no schedstats or the process is gone)."""
    waited = runs = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{proc.pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{proc.pid}/task/{tid}/schedstat").read_text().split()
                waited, runs = waited + int(fields[1]), runs + int(fields[2])
    return waited / 1e9, runs


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process and its descendants have used so far."""
    total = 0.0
    for child in _tree(pid):
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(child).cpu_times()
            total += t.user + t.system
    return total


def listener_pid(url: str, default_port: int) -> int | None:
    """The process serving a service URL on this machine: the one listening on its loopback port or
    on its unix socket (a Redis ``unix://`` URL; PostgreSQL's ``host=`` folder, ``.s.PGSQL.<port>``
    in it)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        return unix_listener(parts.path)
    socket_dir = query.get("host", [""])[0]
    if socket_dir.startswith("/"):
        return unix_listener(f"{socket_dir}/.s.PGSQL.{query.get('port', [parts.port or default_port])[0]}")
    if parts.hostname not in ("127.0.0.1", "localhost"):
        return None
    port = parts.port or default_port
    try:
        for c in psutil.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
                return c.pid
    except psutil.Error:
        return None
    return None


def unix_listener(path: str) -> int | None:
    """The process listening on the unix socket ``path``: of those holding a socket bound there (a
    server's accepted connections carry the path too, and PostgreSQL's backends are children of the
    one that listens), the one whose parent holds none."""
    where = os.path.realpath(path)   # /var/run/postgresql is /run/postgresql
    try:
        holders = {c.pid for c in psutil.net_connections(kind="unix")
                   if c.pid and c.laddr and os.path.realpath(c.laddr) == where}
    except psutil.Error:
        return None
    for pid in sorted(holders):
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).ppid() not in holders:
                return pid
    return None


def redis_pids(url: str) -> list[int]:
    """The processes of a Redis on this machine: its server, or every node of a Redis Cluster."""
    from queue_server.engine.connection import is_cluster, sync_client

    if not is_cluster(url):
        return [pid for pid in [listener_pid(url, 6379)] if pid]
    client = sync_client(url)
    try:
        nodes = [(n.host, n.port) for n in client.get_nodes()]
    finally:
        client.close()
    return [pid for pid in (listener_pid(f"redis://{host}:{port}", 6379) for host, port in nodes) if pid]


def _cores_between(a: Any, b: Any, seconds: float) -> dict[str, float]:
    """The machine's cores between two readings of ``psutil.cpu_times()`` ``seconds`` apart, in % of
    one core: busy, idle and stolen."""
    spent = {f: getattr(b, f) - getattr(a, f) for f in a._fields}
    idle = spent["idle"] + spent.get("iowait", 0.0)
    steal = spent.get("steal", 0.0)
    busy = sum(spent.values()) - idle - steal - spent.get("guest", 0.0) - spent.get("guest_nice", 0.0)
    return {k: round(100 * v / seconds, 1) for k, v in (("busy_pct", busy), ("idle_pct", idle), ("steal_pct", steal))}


def wait_for_quiet(busy_below_pct: float = 30.0, hold_s: float = 3.0, max_wait_s: float = 90.0,
                   step_s: float = 1.0) -> dict[str, float | bool]:
    """Wait until the machine's cores, all together, have been busy less than ``busy_below_pct`` of
    one core for ``hold_s`` in a row, ``max_wait_s`` at most: a phase started while the machine still
    settles from what came before (PostgreSQL's checkpoint and autovacuum after a run's writes, Redis
    freeing a run's keys, processes starting) measures that work as its own. Returns the seconds
    waited, whether the machine got quiet, and how busy it was over its last ``hold_s``."""
    started = time.monotonic()
    readings: list[tuple[float, Any]] = [(started, psutil.cpu_times())]
    calm_since: float | None = None
    while True:
        time.sleep(step_s)
        now, reading = time.monotonic(), psutil.cpu_times()
        then, before = readings[-1]
        readings.append((now, reading))
        if _cores_between(before, reading, now - then)["busy_pct"] < busy_below_pct:
            calm_since = then if calm_since is None else calm_since
        else:
            calm_since = None
        quiet = calm_since is not None and now - calm_since >= hold_s
        if quiet or now - started >= max_wait_s:
            t0, first = readings[max(0, len(readings) - 1 - max(1, round(hold_s / step_s)))]
            return {"waited_s": round(now - started, 1), "quiet": quiet,
                    "busy_pct": _cores_between(first, reading, now - t0)["busy_pct"]}


def _around(times: list[float], start: float, end: float) -> tuple[int, int] | None:
    """The samples just before ``start`` and just after ``end`` (or the nearest there are), by index;
    None with fewer than two."""
    i = max(0, bisect.bisect_left(times, start) - 1)
    j = min(len(times) - 1, bisect.bisect_right(times, end))
    return (i, j) if j > i else None


class _Periodic:
    """``_sample`` once on entering, then every ``interval_s`` in a thread of its own until left."""

    interval_s: float
    _stop: threading.Event
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> Self:
        self._stop = threading.Event()
        self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True, name=type(self).__name__)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()


class Sampler(_Periodic):
    """Per group of processes (each given by its root pid, children included): time series of CPU
    seconds used and of resident memory."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.groups: dict[str, list[int]] = {}
        self.only: dict[str, str] = {}
        # (time, per pid: CPU seconds, read/write system calls and seconds waiting for a core so far, rss MiB)
        self.samples: dict[str, list[tuple[float, dict[int, tuple[float, int, float]], float]]] = {}
        self._redis = None
        # (time, per command: calls so far and microseconds Redis spent in them so far)
        self.commands: list[tuple[float, dict[str, tuple[int, int]]]] = []
        self.cores: list[tuple[float, Any]] = []   # (time, every core's times so far)
        self._handles: dict[int, psutil.Process] = {}   # kept while the process lives: psutil's reads
        self._names: dict[tuple[int, str], bool] = {}   # a process's command line naming a group's ``only``

    def watch(self, group: str, *pids: int | None, only: str | None = None) -> None:
        self.groups.setdefault(group, []).extend(p for p in pids if p)
        if only:
            self.only[group] = only

    def watch_redis(self, url: str) -> None:
        from queue_server.engine.connection import sync_client

        self._redis = sync_client(url)

    def _count_commands(self, now: float) -> None:
        from redis.cluster import RedisCluster

        try:
            if isinstance(self._redis, RedisCluster):
                per_node = self._redis.info("commandstats", target_nodes=RedisCluster.PRIMARIES).values()
            else:
                per_node = [self._redis.info("commandstats")]
        except Exception:   # a Redis restarted or busy: a gap in the series, not a failed run
            return
        calls: dict[str, tuple[int, int]] = {}
        for stats in per_node:
            for name, v in stats.items():
                command = name.removeprefix("cmdstat_")
                n, usec = calls.get(command, (0, 0))
                calls[command] = (n + int(v["calls"]), usec + int(v["usec"]))
        self.commands.append((now, calls))

    def _sample(self) -> None:
        now = time.time()
        self.cores.append((now, psutil.cpu_times()))
        if self._redis is not None:
            self._count_commands(now)
        children = children_by_parent()
        read: dict[int, tuple[tuple[float, int, float, int], float] | None] = {}   # once, whatever its groups
        for group, roots in list(self.groups.items()):
            cpu: dict[int, tuple[float, int, float, int]] = {}
            rss = 0.0
            only = self.only.get(group)
            for root in roots:
                for pid in (_tree(root, children)[1:] if only else _tree(root, children)):
                    if only and not self._named(pid, only):
                        continue
                    if pid not in read:
                        read[pid] = self._read(pid)
                    if (got := read[pid]) is not None:
                        cpu[pid], mib = got
                        rss += mib
            self.samples.setdefault(group, []).append((now, cpu, rss))
        alive = {pid for pids in children.values() for pid in pids}
        self._handles = {pid: h for pid, h in self._handles.items() if pid in alive}
        self._names = {key: v for key, v in self._names.items() if key[0] in alive}

    def _handle(self, pid: int) -> psutil.Process:
        if (h := self._handles.get(pid)) is None:
            h = self._handles[pid] = psutil.Process(pid)
        return h

    def _read(self, pid: int) -> tuple[tuple[float, int, float, int], float] | None:
        """A process's CPU seconds, system calls, seconds waiting for a core and times put on one so
        far, and its resident MiB; None once it is gone."""
        try:
            proc = self._handle(pid)
            t = proc.cpu_times()
            mib = proc.memory_info().rss / 2**20
        except psutil.Error:
            return None
        return (t.user + t.system, _syscalls(proc), *_scheduled(proc)), mib

    def _named(self, pid: int, only: str) -> bool:
        """Whether the process's command line names ``only`` (a PostgreSQL backend's names its
        database for as long as it lives: asked once)."""
        if (pid, only) not in self._names:
            try:
                self._names[(pid, only)] = only in " ".join(self._handle(pid).cmdline())
            except psutil.Error:
                return False
        return self._names[(pid, only)]

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        if self._redis is not None:
            self._redis.close()

    def commands_per_s(self, start: float, end: float) -> dict[str, float]:
        """Redis commands a second between two moments (all of them, under ``total``, then each),
        from the samples around them; the INFO calls of this sampler itself left out."""
        calls = self._command_rates(start, end, 0)
        if calls is None:
            return {}
        rates = {c: n for c, n in calls.items() if n > 0}
        return {"total": sum(rates.values()), **dict(sorted(rates.items(), key=lambda kv: -kv[1]))}

    def command_ms_per_s(self, start: float, end: float) -> dict[str, float]:
        """Milliseconds a second Redis's own clock put in each command between two moments, largest
        first (this sampler's INFO calls left out). A script's EVALSHA counts the commands it runs,
        which are counted again under their own names; and a command's time includes any moment
        Redis waited for a core in the middle of it."""
        spent = self._command_rates(start, end, 1) or {}
        return dict(sorted(((c, us / 1000) for c, us in spent.items() if us > 0), key=lambda kv: -kv[1]))

    def _command_rates(self, start: float, end: float, field: int) -> dict[str, float] | None:
        """Each command's calls (``field`` 0) or microseconds (1) a second, from the samples around
        two moments (None with fewer than two); this sampler's own INFO calls left out."""
        around = _around([t for t, _ in self.commands], start, end)
        if around is None:
            return None
        (t0, first), (t1, last) = self.commands[around[0]], self.commands[around[1]]
        return {c: (now[field] - first.get(c, (0, 0))[field]) / (t1 - t0) for c, now in last.items() if c != "info"}

    def machine(self, start: float, end: float) -> dict[str, float]:
        """The machine's cores between two moments, in % of one core: busy (user, system, interrupts),
        idle (waiting for I/O included) and stolen (ready to run, the hypervisor running another guest)."""
        around = _around([t for t, _ in self.cores], start, end)
        if around is None:
            return {}
        (t0, a), (t1, b) = self.cores[around[0]], self.cores[around[1]]
        return _cores_between(a, b, t1 - t0)

    def window(self, start: float, end: float) -> dict[str, dict[str, float]]:
        """Average CPU (% of one core), time waiting for a core (% of one core: 50 is half a second each
        second of some thread of the group ready to run and not running), times a second its threads
        were put on a core (wakeups and returns from preemption: a process that wakes for each small
        piece of work pays a switch each time), system calls a second (reads and writes: on a socket,
        about one each way per message) and peak memory of each group between
        two moments. All are counted per process from its first to its last sighting, so processes
        that come and go (PostgreSQL backends, Locust workers) neither vanish nor count twice."""
        out = {}
        for group, series in self.samples.items():
            around = _around([s[0] for s in series], start, end)
            if around is None:
                continue
            i, j = around
            first: dict[int, tuple[float, int, float, int]] = {}
            last: dict[int, tuple[float, int, float, int]] = {}
            for _, cpu, _ in series[i:j + 1]:
                for pid, c in cpu.items():
                    first.setdefault(pid, c)
                    last[pid] = c
            seconds = max(series[j][0] - series[i][0], 1e-9)
            used = sum(last[pid][0] - first[pid][0] for pid in last)
            calls = sum(last[pid][1] - first[pid][1] for pid in last)
            waited = sum(last[pid][2] - first[pid][2] for pid in last)
            runs = sum(last[pid][3] - first[pid][3] for pid in last)
            out[group] = {"cpu_pct": round(100 * used / seconds, 1), "waiting_pct": round(100 * waited / seconds, 1),
                          "syscalls_per_s": round(calls / seconds), "runs_per_s": round(runs / seconds),
                          "rss_mib": round(max(s[2] for s in series[i:j + 1]), 1)}
        return out



class Turns(_Periodic):
    """Each group's time on a core and time ready to run but waiting for one, every ``interval_s``
    (50 ms), from the main threads (a server's event loop, Redis's command thread, a Locust process's
    hub) of the processes the ``sampler`` last saw in its groups. The load phase's slowest requests
    come in episodes a few hundred milliseconds long (summary.episodes); what each group did in one —
    ran (its own work), waited (the cores were taken), or neither (waiting on a peer) — is what the
    episode was, where averages over the minute say nothing."""

    def __init__(self, sampler: Sampler, interval_s: float = 0.05) -> None:
        self.sampler = sampler
        self.interval_s = interval_s
        self.groups: dict[str, set[int]] = {}
        self.samples: list[tuple[float, dict[int, tuple[int, int]]]] = []   # (time, pid: run and wait ns so far)
        self.cores: list[Any] = []   # the machine's cores' times so far, at each sample
        self.switches: list[int] = []   # the machine's context switches so far, at each sample
        self.everyone: list[tuple[float, dict[int, tuple[int, str, int]]]] = []   # (time, every_process())
        self._files: dict[int, int] = {}   # pid: its schedstat, open

    def _sample(self) -> None:
        now, seen = time.time(), {}
        if len(self.samples) % 20 == 0:   # the processes the sampler has seen, every 20 samples: kept once gone
            for group, series in list(self.sampler.samples.items()):
                self.groups.setdefault(group, set()).update(series[-1][1] if series else ())
            self.everyone.append((now, every_process()))
        for pid in {p for pids in self.groups.values() for p in pids}:
            with contextlib.suppress(OSError, ValueError, IndexError):
                run, wait = self._schedstat(pid).split()[:2]
                seen[pid] = (int(run), int(wait))
        self.cores.append(psutil.cpu_times())
        self.switches.append(psutil.cpu_stats().ctx_switches)
        self.samples.append((now, seen))

    def _schedstat(self, pid: int) -> bytes:
        """The process's /proc schedstat, read again through the file opened the first time: an open
        and a close less at each of the 20 samples a second (a gone process's read fails, and its
        file is closed)."""
        if (fd := self._files.get(pid)) is None:
            fd = self._files[pid] = os.open(f"/proc/{pid}/schedstat", os.O_RDONLY)
        try:
            return os.pread(fd, 256, 0)
        except OSError:
            os.close(self._files.pop(pid))
            raise

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()

    def between(self, start: float, end: float) -> dict[str, dict[str, float]]:
        """Per group with a process alive over it, milliseconds a second on a core and waiting for one
        between two moments (from the samples around them; a group of two processes may reach 2,000
        of each)."""
        around = _around([t for t, _ in self.samples], start, end)
        if around is None:
            return {}
        (t0, a), (t1, b) = self.samples[around[0]], self.samples[around[1]]
        out = {}
        for group, pids in self.groups.items():
            both = [p for p in pids if p in a and p in b]
            if both:
                out[group] = {"run_ms_per_s": round(sum(b[p][0] - a[p][0] for p in both) / 1e6 / (t1 - t0)),
                              "wait_ms_per_s": round(sum(b[p][1] - a[p][1] for p in both) / 1e6 / (t1 - t0))}
        return out

    def cores_between(self, start: float, end: float) -> dict[str, float]:
        """The machine's two cores between two moments, in milliseconds a second: busy, stolen by the
        hypervisor, and ``outside`` — busy but not in any watched process's main thread (the kernel's
        network and disk work, PostgreSQL's own writers, other threads, other programs) —, of which
        ``interrupts`` the kernel's interrupt handlers (the loopback's packets are received there) —,
        and the context switches a second (each switch's own work is no task's time). An
        episode in which every group waits while the groups together run far below the cores' 2,000 is
        the cores' time going somewhere else."""
        around = _around([t for t, _ in self.samples], start, end)
        if around is None:
            return {}
        i, j = around
        (t0, a), (t1, b) = self.samples[i], self.samples[j]
        cores = _cores_between(self.cores[i], self.cores[j], t1 - t0)
        watched = set().union(*self.groups.values())
        ran = sum(b[p][0] - a[p][0] for p in watched if p in a and p in b)
        busy = 10 * cores["busy_pct"]
        interrupts = sum(getattr(self.cores[j], f) - getattr(self.cores[i], f) for f in ("irq", "softirq"))
        return {"busy_ms_per_s": round(busy), "stolen_ms_per_s": round(10 * cores["steal_pct"]),
                "outside_ms_per_s": round(busy - ran / 1e6 / (t1 - t0)),
                "interrupts_ms_per_s": round(1000 * interrupts / (t1 - t0)),
                "switches_per_s": round((self.switches[j] - self.switches[i]) / (t1 - t0)),
                "outside_by_program": self._outside_by_program(start, end, watched)}

    def _outside_by_program(self, start: float, end: float, watched: set[int]) -> dict[str, float]:
        """The programs outside the groups that used the most CPU over the whole seconds around two
        moments (ms a second, by name, 10 and more): a neighbour's burst — a broker's minute timer, an
        agent's poll — shows against its usual nothing."""
        around = _around([t for t, _ in self.everyone], start, end)
        if around is None:
            return {}
        (t0, a), (t1, b) = self.everyone[around[0]], self.everyone[around[1]]
        used: dict[str, int] = {}
        for pid, (_, name, ticks) in b.items():
            if pid not in watched and pid in a and ticks > a[pid][2]:
                used[name] = used.get(name, 0) + ticks - a[pid][2]
        per_s = {name: round(1000 * n / CLOCK_TICKS / (t1 - t0)) for name, n in used.items()}
        return dict(sorted(((k, v) for k, v in per_s.items() if v >= 10), key=lambda kv: -kv[1])[:5])
