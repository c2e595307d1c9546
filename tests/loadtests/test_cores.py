"""``loadtests/run --pin``: the cores named, and a running process (every thread of it) moved onto them."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from loadtests.cores import Cores, as_batch, neighbour, pin, taskset


def test_cores_are_two_disjoint_sets() -> None:
    assert Cores.parse("auto", 2) == Cores((0,), (1,))
    assert Cores.parse("auto", 8) == Cores((0, 1, 2, 3), (4, 5, 6, 7))
    assert Cores.parse("0,2-3:1", 4) == Cores((0, 2, 3), (1,))
    for bad in ("0:0", "0-1:1", "0:5", "0", "auto"):
        with pytest.raises(ValueError):
            Cores.parse(bad, 2 if bad != "auto" else 1)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_a_running_process_is_moved_with_every_thread_and_a_started_one_begins_there() -> None:
    code = "import threading, time; threading.Thread(target=time.sleep, args=(30,), daemon=True).start(); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    started = subprocess.Popen([*taskset((1,)), sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        while len(list(Path(f"/proc/{proc.pid}/task").iterdir())) < 2:
            pass
        pin(proc.pid, (0,))
        assert {tid.name: os.sched_getaffinity(int(tid.name)) for tid in Path(f"/proc/{proc.pid}/task").iterdir()} == \
            {tid.name: {0} for tid in Path(f"/proc/{proc.pid}/task").iterdir()}
        assert os.sched_getaffinity(started.pid) == {1}
    finally:
        for p in (proc, started):
            p.kill()
            p.wait()


def test_a_process_started_as_batch_and_what_it_forks_are_batch() -> None:
    # each line one write: print's two writes ("3", then a newline) interleave across the processes when unbuffered
    code = "import os; pid = os.fork(); os.write(1, b'%d\\n' % os.sched_getscheduler(0)); os.waitpid(pid, 0) if pid else None"
    out = subprocess.run([*as_batch(), sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(os.SCHED_BATCH)] * 2


def test_a_neighbour_keeps_busy_while_inside_and_is_gone_after() -> None:
    with neighbour(5, 10) as pid:
        time.sleep(1.0)
        spent = sum(psutil.Process(pid).cpu_times()[:2])
    assert spent > 0.1   # busy half of each 10 ms: most of 0.5 s, unless the machine starved it
    assert not psutil.pid_exists(pid)
