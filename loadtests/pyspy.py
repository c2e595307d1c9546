"""Where the servers spend their time under load: py-spy records each server process for a phase
(``loadtests/run PROFILE --py-spy``), and the hottest functions, by own time and including callees,
go into the summary. The raw files load into speedscope or flamegraph.pl for the whole picture."""
from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from .harness import ROOT

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


@contextlib.contextmanager
def recording(out: Path, phase: str, pids: list[int], enabled: bool) -> Iterator[list[Path]]:
    """Sample every pid (50 Hz, GIL-holding stacks only: CPU, not waiting) during the phase's measured
    window: from its start mark (``window-PHASE.json``) until the block ends — steady state only,
    not the sockets' opening or the warm-up of caches."""
    files = [out / f"py-spy-{phase}-server{i}.txt" for i in range(len(pids))]
    procs: list[subprocess.Popen] = []
    done = threading.Event()

    def start_at_mark() -> None:
        marks = out / f"window-{phase}.json"
        while not done.wait(0.2):
            if marks.exists() and "start" in marks.read_text():
                procs.extend(subprocess.Popen(
                    [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid", str(pid), "--format", "raw",
                     "--rate", "50", "--gil", "--nonblocking", "-o", str(f)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid, f in zip(pids, files))
                return

    waiter = threading.Thread(target=start_at_mark, daemon=True)
    if enabled:
        waiter.start()
    try:
        yield files if enabled else []
    finally:
        done.set()
        if enabled:
            waiter.join()
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def _name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["file"]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{m['fn']} ({path})"


def hottest(files: list[Path], n: int = 15) -> dict[str, list[list]]:
    """Top functions by own samples and by inclusive samples, in % of all samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for f in files:
        if not f.exists():
            continue
        for line in f.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = [_name(x) for x in stack.split(";")]
            k = int(count)
            total += k
            own[frames[-1]] += k
            for name in set(frames):
                inclusive[name] += k
    if not total:
        return {}
    pct = lambda c: [[name, round(100 * k / total, 1)] for name, k in c.most_common(n)]  # noqa: E731
    return {"samples": total, "own_pct": pct(own), "inclusive_pct": pct(inclusive)}
