"""The run's sampler: a process's system calls and its times on a core in a window, and the commands
Redis served. All are rates over the samples around the window (a tenth of a second apart here), so
a count comes back as at least seven tenths of itself over a window of a second or so."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from loadtests.procstat import Sampler, Turns, listener_pid, wait_for_quiet
from queue_server.engine.connection import sync_client

WRITES = 4000
SPIN_ON_CORE_0 = "import os, time; os.sched_setaffinity(0, {0}); end = time.monotonic() + 30\nwhile time.monotonic() < end: pass"


def window_of(work: str) -> tuple[dict[str, float], float]:
    """A child process that runs ``work`` on a word from us, watched over a window around it: its
    figures in that window and the window's seconds."""
    code = f"import os, sys, time; sys.stdin.readline()\n{work}\nprint('done', flush=True); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        with Sampler(interval_s=0.1) as sampler:
            sampler.watch("child", proc.pid)
            time.sleep(0.3)
            start = time.time()
            proc.stdin.write("go\n")   # type: ignore[union-attr]
            proc.stdin.flush()          # type: ignore[union-attr]
            assert proc.stdout.readline() == "done\n"   # type: ignore[union-attr]
            time.sleep(0.8)
            end = time.time()
        return sampler.window(start, end)["child"], end - start
    finally:
        proc.kill()
        proc.wait()


def test_a_window_counts_the_system_calls_made_in_it() -> None:
    got, seconds = window_of(f"fd = os.open('/dev/null', os.O_WRONLY)\nfor _ in range({WRITES}): os.write(fd, b'x')")
    assert WRITES * 0.7 <= got["syscalls_per_s"] * seconds < WRITES * 1.5


def test_a_window_counts_the_times_a_process_was_put_on_a_core() -> None:
    """A process that wakes 400 times (a millisecond's sleep each) is put on a core at least that often."""
    got, seconds = window_of("for _ in range(400): time.sleep(0.001)")
    assert 400 * 0.7 <= got["runs_per_s"] * seconds < 400 * 3, got


def test_a_window_counts_the_commands_redis_served(service_urls: tuple[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = sync_client(service_urls[0])
    key = f"test-procstat:{tmp_path.name}"
    try:
        with Sampler(interval_s=0.1) as sampler:
            sampler.watch_redis(service_urls[0])
            time.sleep(0.3)
            start = time.time()
            for i in range(300):
                client.set(key, i)
            time.sleep(0.8)
            end = time.time()
        calls = sampler.commands_per_s(start, end)
        assert 300 * 0.7 <= calls["set"] * (end - start)
        assert "info" not in calls and calls["total"] >= calls["set"]
        spent = sampler.command_ms_per_s(start, end)   # Redis's own clock: some time in the SETs, none in INFO
        assert spent["set"] > 0 and "info" not in spent
    finally:
        client.delete(key)
        client.close()


def test_a_window_counts_the_time_waiting_for_a_core() -> None:
    """Two processes spinning on the same core: each runs about half the time and waits the other half,
    so together they wait about one core's worth, whatever else the machine does."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN_ON_CORE_0]) for _ in range(2)]
    try:
        with Sampler(interval_s=0.1) as sampler:
            sampler.watch("spinners", *(p.pid for p in spinners))
            time.sleep(0.5)
            start = time.time()
            time.sleep(1.0)
            end = time.time()
        got = sampler.window(start, end)["spinners"]
        assert got["waiting_pct"] >= 50 and got["cpu_pct"] <= 110, got
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def test_the_machines_cores_are_busy_idle_or_stolen() -> None:
    """A process spinning on one core: the machine was busy at least most of a core, and busy, idle
    and stolen add up to every core's time."""
    spinner = subprocess.Popen([sys.executable, "-c", SPIN_ON_CORE_0])
    try:
        with Sampler(interval_s=0.1) as sampler:
            time.sleep(0.5)
            start = time.time()
            time.sleep(1.0)
            end = time.time()
        got = sampler.machine(start, end)
        assert got["busy_pct"] >= 60, got
        assert abs(got["busy_pct"] + got["idle_pct"] + got["steal_pct"] - 100 * os.cpu_count()) <= 25, got   # type: ignore[operator]
    finally:
        spinner.kill()
        spinner.wait()


def test_a_service_on_a_unix_socket_is_found_by_the_process_listening_on_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """As PostgreSQL's: the listener hands an accepted connection, bound to the same path, to a child
    of its own (a backend)."""
    path = tmp_path / ".s.PGSQL.5432"
    code = ("import os, socket, sys, time\n"
            f"s = socket.socket(socket.AF_UNIX); s.bind({str(path)!r}); s.listen()\n"
            f"c = socket.socket(socket.AF_UNIX); c.connect({str(path)!r}); a, _ = s.accept()\n"
            "child = os.fork()\n"
            "(a if child else s).close()\n"
            "print(child if child else '', flush=True); time.sleep(30)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    lines = [proc.stdout.readline().strip() for _ in range(2)]   # type: ignore[union-attr]
    child = int(next(x for x in lines if x))
    try:
        assert listener_pid(f"postgresql://postgres@/postgres?host={tmp_path}", 5432) == proc.pid
        assert listener_pid(f"unix://{path}?db=0", 6379) == proc.pid
        assert listener_pid(f"postgresql://postgres@/postgres?host={tmp_path}&port=5433", 5432) is None
    finally:
        os.kill(child, 9)
        proc.kill()
        proc.wait()


def test_a_phase_waits_for_the_machine_to_quiet_down() -> None:
    """A core kept busy for two seconds: the wait lasts past it, and then until the machine has been
    quiet for the time asked (or until its bound, if the rest of the machine stays busy)."""
    spinner = subprocess.Popen([sys.executable, "-c", SPIN_ON_CORE_0.replace("+ 30", "+ 2")])
    try:
        got = wait_for_quiet(busy_below_pct=60, hold_s=1.0, max_wait_s=20, step_s=0.25)
    finally:
        spinner.kill()
        spinner.wait()
    assert got["waited_s"] >= 2.0, got
    if got["quiet"]:
        assert got["busy_pct"] < 60, got


def test_a_machine_that_stays_busy_is_waited_for_only_so_long() -> None:
    """A core busy for longer than the bound: the wait gives up at its bound and says so."""
    spinner = subprocess.Popen([sys.executable, "-c", SPIN_ON_CORE_0])
    try:
        time.sleep(0.3)
        got = wait_for_quiet(busy_below_pct=60, hold_s=1.0, max_wait_s=1.5, step_s=0.25)
    finally:
        spinner.kill()
        spinner.wait()
    assert got == {"waited_s": got["waited_s"], "quiet": False, "busy_pct": got["busy_pct"]}, got
    assert 1.5 <= got["waited_s"] < 10, got
    assert got["busy_pct"] >= 60, got


def test_turns_say_who_ran_and_who_waited_for_the_core() -> None:
    """Two children spinning on core 0 take turns at it: each on it about half of every second and
    waiting about the other half; a sleeping one neither. The turns follow the sampler's groups, and
    keep a group's processes once they have gone (a Locust run ends before the window is looked at)."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN_ON_CORE_0]) for _ in range(2)]
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.5)
        with Sampler(interval_s=0.1) as sampler, Turns(sampler) as turns:
            sampler.watch("spinning", *(p.pid for p in spinners))
            sampler.watch("sleeping", sleeper.pid)
            time.sleep(1.2)   # the sampler has seen them, and the turns taken them up from it
            start = time.time()
            time.sleep(1.0)
            end = time.time()
            time.sleep(0.2)   # the sample after the end taken
            for p in spinners:
                p.kill()
                p.wait()
            time.sleep(1.2)   # the sampler no longer sees them
        seen = turns.between(start, end)
    finally:
        for p in (*spinners, sleeper):
            p.kill()
            p.wait()
    assert 700 <= seen["spinning"]["run_ms_per_s"] <= 1100 and 700 <= seen["spinning"]["wait_ms_per_s"] <= 1100
    assert seen["sleeping"] == {"run_ms_per_s": 0, "wait_ms_per_s": 0}


def test_the_cores_time_outside_the_watched_processes_is_told_apart() -> None:
    """Two children spinning on core 0, one watched and one not: core 0 is busy the whole second, the
    watched one has about half of it, and the other half is ``outside`` — where an episode's cores go
    when every group waits and none runs more — under the unwatched one's name."""
    watched, unwatched = (subprocess.Popen([sys.executable, "-c", SPIN_ON_CORE_0]) for _ in range(2))
    try:
        time.sleep(0.5)
        with Sampler(interval_s=0.1) as sampler, Turns(sampler) as turns:
            sampler.watch("spinning", watched.pid)
            time.sleep(1.2)   # the sampler has seen it, and the turns taken it up from it
            start = time.time()
            time.sleep(1.0)
            end = time.time()
            time.sleep(0.2)
        cores = turns.cores_between(start, end)
    finally:
        for p in (watched, unwatched):
            p.kill()
            p.wait()
    assert cores["busy_ms_per_s"] >= 900 and 0 <= cores["interrupts_ms_per_s"] < 200, cores
    assert cores["switches_per_s"] > 0, cores   # the two at least take turns at core 0
    assert 350 <= cores["outside_ms_per_s"] <= cores["busy_ms_per_s"] - 350, cores
    name = Path(f"/proc/{os.getpid()}/comm").read_text().strip()   # the children's, as ours: the same executable
    assert cores["outside_by_program"].get(name, 0) >= 350, cores


def test_a_group_is_its_process_and_every_descendant_or_those_its_command_line_names() -> None:
    """As Locust's forked workers and PostgreSQL's backends of one database: a grandchild started
    after the watch began is in its group; with ``only``, just the descendants whose command line
    names it (not the process itself)."""
    code = ("import subprocess, sys, time\n"
            "kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)', arg]) for arg in ('qs_mark', 'other')]\n"
            "print(' '.join(str(k.pid) for k in kids), flush=True); time.sleep(30)")
    with Sampler(interval_s=0.1) as sampler:
        parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            sampler.watch("all", parent.pid)
            sampler.watch("named", parent.pid, only="qs_mark")
            marked, other = (int(x) for x in parent.stdout.readline().split())   # type: ignore[union-attr]
            time.sleep(0.5)
            everyone, named = (set(sampler.samples[g][-1][1]) for g in ("all", "named"))
        finally:
            for pid in (marked, other):
                os.kill(pid, 9)
            parent.kill()
            parent.wait()
    assert everyone == {parent.pid, marked, other}
    assert named == {marked}


def test_turns_let_go_of_a_process_once_it_is_gone() -> None:
    """The turns keep each process's schedstat open between samples; a process that ends has its
    file closed, and leaving closes the rest."""
    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = open_files()
    short = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    long = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with Sampler(interval_s=0.1) as sampler, Turns(sampler) as turns:
            sampler.watch("short", short.pid)
            sampler.watch("long", long.pid)
            time.sleep(1.5)   # taken up by the turns: one file open for each
            assert open_files() >= before + 2
            while_both = open_files()
            short.kill()
            short.wait()
            time.sleep(0.3)
            assert open_files() == while_both - 1
            assert turns.samples[-1][1].keys() == {long.pid}
        assert open_files() == before
    finally:
        for p in (short, long):
            p.kill()
            p.wait()
