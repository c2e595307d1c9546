"""Where Redis's time goes by script (``loadtests/run PROFILE --redis-calls``). ``redis_ms_per_s``
says it by command, and there every script is one ``evalsha``; here Redis's slow log is turned on
for every command (``slowlog-log-slower-than 0``) for ``SAMPLE_S`` in the middle of the load
phase's measured window, and the summary gets, for those seconds, each script's calls (by name: its
SHA matched against the project's scripts) and the commands clients sent themselves, with what each
call took on Redis's own clock, and the commands the scripts made inside them.

The slow log costs Redis an entry per command, the scripts' own commands included, so its figures
read high (at the city, the scripts' time a quarter above what ``INFO commandstats`` gives the whole
window) and a run with it is a diagnosis, not a run to judge. Redis's settings are put back as they
were."""
from __future__ import annotations

import contextlib
import hashlib
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from queue_server.engine.scripts import NAMES, _source

SAMPLE_S = 3.0
IN_SCRIPT = b"?:0"   # the client address the slow log gives a command a script made


def script_names() -> dict[str, str]:
    """The project's scripts by SHA1 (of the source sent, the shared helpers prepended)."""
    return {hashlib.sha1(_source(n).encode()).hexdigest(): n for n in NAMES}


def _figures(durations: list[int], seconds: float) -> dict[str, Any]:
    durations.sort()
    return {"calls": len(durations), "ms_per_s": round(sum(durations) / 1000 / seconds, 1),
            "us_mean": round(statistics.fmean(durations), 1), "us_p50": durations[len(durations) // 2],
            "us_p99": durations[min(len(durations) - 1, int(len(durations) * 0.99))], "us_max": durations[-1]}


def summarize(entries: list[dict[str, Any]], seconds: float, names: dict[str, str]) -> dict[str, Any]:
    """Slow-log entries (redis-py's ``slowlog_get``) as calls and time by script, by command a
    client sent, and by command made inside a script; each sorted by time spent, most first."""
    scripts: dict[str, list[int]] = {}
    sent: dict[str, list[int]] = {}
    inside: dict[str, list[int]] = {}
    for e in entries:
        args = e["command"].split(b" ", 2)   # bytes: the sampling client does not decode replies
        command = args[0].decode("ascii", "replace").lower()
        if e.get("client_address") == IN_SCRIPT:
            inside.setdefault(command, []).append(e["duration"])
        elif command == "evalsha" and len(args) > 1:
            sha = args[1].decode("ascii", "replace")
            scripts.setdefault(names.get(sha, sha[:12]), []).append(e["duration"])
        else:
            sent.setdefault(command, []).append(e["duration"])

    def ranked(by: dict[str, list[int]]) -> dict[str, Any]:
        return {k: _figures(v, seconds) for k, v in sorted(by.items(), key=lambda kv: -sum(kv[1]))}

    return {"seconds": seconds, "scripts": ranked(scripts), "commands": ranked(sent), "in_scripts": ranked(inside)}


def sample(client: redis.Redis, seconds: float = SAMPLE_S) -> dict[str, Any]:
    """Every command Redis runs for ``seconds``, summarized; its slow-log settings put back after."""
    kept = client.config_get("slowlog-*")
    try:
        client.config_set("slowlog-max-len", 2_000_000)
        client.slowlog_reset()
        client.config_set("slowlog-log-slower-than", 0)
        began = time.monotonic()
        time.sleep(seconds)
        client.config_set("slowlog-log-slower-than", kept["slowlog-log-slower-than"])
        took = time.monotonic() - began
        entries = client.slowlog_get(2_000_000)
    finally:
        client.config_set("slowlog-log-slower-than", kept["slowlog-log-slower-than"])
        client.slowlog_reset()
        client.config_set("slowlog-max-len", kept["slowlog-max-len"])
    return summarize(entries, round(took, 2), script_names())


@contextlib.contextmanager
def sampling(out: Path, phase: str, redis_url: str, measure_s: float, enabled: bool) -> Iterator[dict[str, Any]]:
    """While the block runs: once the phase's window has begun (its mark, ``window-PHASE.json``),
    ``sample`` in its middle; the dict yielded holds the result when the block ends (empty if the
    window ended first, or when not ``enabled``)."""
    found: dict[str, Any] = {}
    done = threading.Event()

    def in_the_middle() -> None:
        marks = out / f"window-{phase}.json"
        while not (marks.exists() and "start" in marks.read_text()):
            if done.wait(0.2):
                return
        if done.wait(max(0.0, (measure_s - SAMPLE_S) / 2)):
            return
        with redis.Redis.from_url(redis_url) as client:
            found.update(sample(client))

    sampler = threading.Thread(target=in_the_middle, daemon=True)
    if enabled:
        sampler.start()
    try:
        yield found
    finally:
        done.set()
        if enabled:
            sampler.join()
