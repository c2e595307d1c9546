"""From what a run left in its folder (Locust's JSON stats, the workers' tallies, the measured window)
and the process samples, the figures of ``summary.json`` and the verdict on the profile's targets."""
from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .harness import percentile
from .profiles import Profile, did_nothing

# The queue operations that did something; answers that did nothing (call-next with nobody waiting)
# are counted apart under did_nothing(name) and never towards the rate judged.
QUEUE_OPS = ("issue", "call-next", "recall", "start", "finish", "no-show", "transfer", "review (tablet)", "sms reply")
EMPTY_OPS = tuple(did_nothing(n) for n in QUEUE_OPS)
READS = ("status page",)
SLOWEST_SHARE = 0.01     # the slowest 1 % of the operations: what their p99 is made of
EPISODE_GAP_S = 0.25     # slow requests begun within this of the last one are one episode


def _hist_percentile(hist: dict[float, int], p: float) -> float | None:
    total = sum(hist.values())
    if not total:
        return None
    want, seen = total * p / 100, 0
    for ms in sorted(hist):
        seen += hist[ms]
        if seen >= want:
            return ms
    return max(hist)


def _merge(entries: list[dict[str, Any]]) -> dict[float, int]:
    hist: dict[float, int] = {}
    for e in entries:
        for ms, n in e["response_times"].items():
            hist[float(ms)] = hist.get(float(ms), 0) + n
    return hist


def figures(entries: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Count, rate and percentiles (ms, Locust's rounding: exact below 100 ms, then 2 digits)."""
    hist = _merge(entries)
    n = sum(e["num_requests"] for e in entries)
    return {"count": n, "per_s": round(n / seconds, 1) if seconds else None,
            "failures": sum(e["num_failures"] for e in entries),
            **{f"p{p}_ms": _hist_percentile(hist, p) for p in (50, 95, 99)},
            "max_ms": max((e["max_response_time"] for e in entries), default=None)}


PARTS = ("", "-desks")   # a phase's Locust runs: all its users, or the screens' and the desks' (runner.py)


def read_stats(out: Path, phase: str) -> list[dict[str, Any]]:
    return [e for part in PARTS if (path := out / f"{phase}{part}.json").exists() for e in json.loads(path.read_text())]


def read_failures(out: Path, phase: str, limit: int = 10) -> list[dict[str, Any]]:
    rows = []
    for path in (out / f"{phase}{part}_failures.csv" for part in PARTS):
        if path.exists():
            with path.open() as f:
                rows += list(csv.DictReader(f))
    rows.sort(key=lambda r: -int(r.get("Occurrences") or 0))
    return [{"name": r["Name"], "error": r["Error"][:300], "count": int(r["Occurrences"])} for r in rows[:limit]]


def read_exceptions(out: Path, phase: str) -> int:
    """Errors raised in the users' own code (Locust's ``*_exceptions.csv``): a broken run, not load."""
    total = 0
    for path in (out / f"{phase}{part}_exceptions.csv" for part in PARTS):
        if path.exists():
            with path.open() as f:
                total += sum(int(r.get("Count") or 0) for r in csv.DictReader(f))
    return total


def window(out: Path, phase: str) -> tuple[float, float] | None:
    path = out / f"window-{phase}.json"
    if not path.exists():
        return None
    marks = json.loads(path.read_text())
    return (marks["start"], marks["end"]) if "start" in marks and "end" in marks else None


def tallies(out: Path, phase: str) -> dict[str, Any]:
    """The workers' socket tallies summed, and their raw call->screen latencies merged."""
    held = low = peak = 0
    counts: dict[str, int] = {}
    calls: dict[str, list[int]] = {}
    for path in sorted(out.glob(f"worker-{phase}-*.json")):
        t = json.loads(path.read_text())
        held, low, peak = held + t["held"], low + t["low"], peak + t["peak"]
        for k, v in t["counts"].items():
            counts[k] = counts.get(k, 0) + v
        for k, v in t["call_ms"].items():
            calls.setdefault(k, []).extend(v)
    every = [ms for v in calls.values() for ms in v]

    def stats(values: list[int]) -> dict[str, Any]:
        return {"count": len(values), "p50_ms": percentile(values, 50) if values else None,
                "p99_ms": percentile(values, 99) if values else None, "max_ms": max(values) if values else None}

    return {"held": held, "low": low, "peak": peak, "counts": counts,
            "call_to_screen": {**stats(every), "by_device": {k: stats(v) for k, v in sorted(calls.items())}}}


def closed_loop(out: Path, phase: str | tuple[str, ...], names: tuple[str, ...]) -> dict[str, Any]:
    """A closed-loop phase's figures; of several phases (a phase's rounds), their requests and
    measured seconds summed and their percentiles over every request."""
    phases = (phase,) if isinstance(phase, str) else phase
    seconds = sum(span[1] - span[0] for p in phases if (span := window(out, p)))
    stats = [e for p in phases for e in read_stats(out, p)]
    entries = [e for e in stats if e["name"] in names]
    per_op = {name: figures([e for e in entries if e["name"] == name], seconds) for name in names}
    empty = [e for e in stats if e["name"] in {did_nothing(n) for n in names}]
    result = {"seconds": round(seconds, 1), **figures(entries, seconds),
              "operations": {k: v for k, v in per_op.items() if v["count"]},
              "empty": figures(empty, seconds),
              "failures_seen": sorted((f for p in phases for f in read_failures(out, p)),
                                      key=lambda f: -f["count"])[:10]}
    result["failures"] += sum(read_exceptions(out, p) for p in phases)
    return result


PER_OP = ("server_cpu_ms_per_op", "server_syscalls_per_op", "server_runs_per_op", "redis_cpu_ms_per_op")   # runner.phases, each phase's


def rounds_pooled(out: Path, rounds: list[tuple[str, dict[str, Any]]], names: tuple[str, ...]) -> dict[str, Any]:
    """A closed-loop phase run in rounds (``Profile.capacity_rounds``) as one: ``closed_loop`` over
    them all, and each figure per operation (``PER_OP``) as the rounds' total over their operations —
    a 10-s reading moves by a fifth from one run to the next on a quiet machine, and rounds
    interleaved with the paced baseline's cancel the drift between them as well. Each round's own
    figures stay under ``rounds``."""
    if len(rounds) == 1:
        return rounds[0][1]
    pooled = closed_loop(out, tuple(phase for phase, _ in rounds), names)
    parts = [part for _, part in rounds]
    for key in PER_OP:
        if all(p.get(key) and p.get("count") for p in parts):
            pooled[key] = round(sum(p[key] * p["count"] for p in parts) / sum(p["count"] for p in parts), 3)
    busy = [p["server_busy_pct"] for p in parts if p.get("server_busy_pct")]
    if len(busy) == len(parts):
        pooled["server_busy_pct"] = round(sum(busy) / len(busy), 1)
    pooled["rounds"] = [{"phase": phase, **part} for phase, part in rounds]
    return pooled


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v]
    return sum(known) / len(known) if known else None


def capacity_ratios(baseline: dict[str, Any], capacity: dict[str, Any]) -> dict[str, float | None]:
    """Our capacity as a share of the bare baseline's, judged against ``min_baseline_ratio``: requests
    a second per second of server CPU, ours over the baseline's (= the baseline's CPU per request over
    ours), both at the same rate. ``ratio_to_baseline`` takes the baseline paced at our capacity
    phase's rate (``baseline["paced"]``; both pooled over their rounds, ``rounds_pooled``): on two
    cores shared with Redis, PostgreSQL and the generators our servers never saturate, and the bare
    one, saturated in its closed loop, pays no wakeup between requests, a fifth of its CPU per request
    on a machine where a wakeup is dear ("What the capacity ratio measures"); at one rate both pay
    alike and the ratio is our work against the bare call's.
    ``saturated_ratio_to_baseline`` is against the closed-loop baseline, the mean of its runs before
    ours and after (``baseline["after"]``), which cancels the machine's drift between them; it stands
    in for the judged ratio when no paced run was made. The closed loop's own ratio of requests a
    second (``throughput_ratio_to_baseline``) is reported, not judged: it measures how the machine's
    cores were shared, not what either server can do."""
    runs = [baseline, *([baseline["after"]] if baseline.get("after") else [])]
    saturated, ours_cpu = _mean(r.get("server_cpu_ms_per_op") for r in runs), capacity.get("server_cpu_ms_per_op")
    paced = (baseline.get("paced") or {}).get("server_cpu_ms_per_op")
    base_rate, ours_rate = _mean(r.get("per_s") for r in runs), capacity.get("per_s")

    def ratio(base_cpu: float | None) -> float | None:
        return round(base_cpu / ours_cpu, 2) if base_cpu and ours_cpu else None

    return {"ratio_to_baseline": ratio(paced or saturated), "saturated_ratio_to_baseline": ratio(saturated),
            "throughput_ratio_to_baseline": round(ours_rate / base_rate, 2) if base_rate and ours_rate else None}


def load_phase(out: Path, profile: Profile) -> dict[str, Any]:
    span = window(out, "load")
    seconds = span[1] - span[0] if span else 0.0
    entries = read_stats(out, "load")
    by_name: dict[str, list[dict[str, Any]]] = {}
    for e in entries:   # a name may come from both parts of the phase
        by_name.setdefault(e["name"], []).append(e)
    ops = {name: figures(by_name[name], seconds) for name in QUEUE_OPS if name in by_name}
    queue = figures([e for n in QUEUE_OPS for e in by_name.get(n, [])], seconds)
    queue["worst_p99_ms"] = max((v["p99_ms"] or 0 for v in ops.values()), default=None)
    empty = figures([e for n in EMPTY_OPS for e in by_name.get(n, [])], seconds)
    t = tallies(out, "load")
    return {
        "seconds": round(seconds, 1),
        "queue_operations": {**queue, "target_per_s": profile.ops_per_s, "by_operation": ops, "empty": empty},
        "reads": {n: figures(by_name[n], seconds) for n in READS if n in by_name},
        "call_to_screen": t["call_to_screen"],
        "sockets": {"planned": profile.screens, "held_at_end": t["held"], "lowest": t["low"], "peak": t["peak"],
                    "opened": figures(by_name["open"], seconds) if "open" in by_name else None,
                    "dropped": sum(e["num_failures"] for e in by_name.get("dropped", [])),
                    **{k: t["counts"].get(k, 0) for k in ("snapshots", "resumes", "resets", "events", "pings")}},
        "clerks": {k: t["counts"].get(k, 0)
                   for k in ("call_next_empty", "clerk_windows_lost", "clerk_resynced", "clerk_slots_reused")},
        "sms_replies": t["counts"].get("sms_replies", 0),
        "errors": sum(e["num_failures"] for e in entries) + read_exceptions(out, "load"),
        "failures_seen": read_failures(out, "load"),
    }


def episodes(out: Path, phase: str, span: tuple[float, float], gap_s: float = EPISODE_GAP_S,
             listed: int = 10) -> dict[str, Any]:
    """Where the tail of a phase's queue operations is: the slowest 1 % of those begun and answered in
    the window (at or over their p99, ``threshold_ms``), grouped into episodes — each slow one begun
    within ``gap_s`` of the one before joins its episode. A few episodes holding most of them is
    congestion for a few hundred milliseconds at a time, not a cost paid by every request; an episode
    whose slow requests went mostly to one server (``most_on``) is that process's, one spread over
    them all the machine's. The ``listed`` largest come with their times (``from``/``to``, epoch
    seconds), for the runner to say what the processes did in them."""
    answered = []
    for path in sorted(out.glob(f"worker-{phase}-*.json")):
        for end, ms, name, server in json.loads(path.read_text()).get("requests", []):
            begun = end - ms / 1000
            if name in QUEUE_OPS and span[0] <= begun and end <= span[1]:
                answered.append((begun, end, ms, server))
    if not answered:
        return {}
    answered.sort()
    threshold = sorted(a[2] for a in answered)[len(answered) - max(1, round(len(answered) * SLOWEST_SHARE))]
    found: list[list[tuple[float, float, float, str]]] = []
    for a in (a for a in answered if a[2] >= threshold):
        if found and a[0] - found[-1][-1][0] <= gap_s:
            found[-1].append(a)
        else:
            found.append([a])
    largest = sorted(found, key=len, reverse=True)
    slow = sum(len(e) for e in found)
    out_list = []
    for e in largest[:listed]:
        begun, ended = e[0][0], max(a[1] for a in e)
        server, n = Counter(a[3] for a in e).most_common(1)[0]
        out_list.append({"at_s": round(begun - span[0], 2), "lasting_s": round(ended - begun, 2), "slow": len(e),
                         "answered": sum(1 for a in answered if begun <= a[0] <= e[-1][0]),
                         "worst_ms": max(a[2] for a in e), "most_on": server, "most_on_share": round(n / len(e), 2),
                         "from": begun, "to": ended})
    return {"threshold_ms": threshold, "slow": slow, "episodes": len(found),
            "largest_5_share": round(sum(len(e) for e in largest[:5]) / slow, 2), "largest": out_list}


def judge(profile: Profile, s: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the profile with what the run got and whether it was met."""
    t, load = profile.targets, s["load"]
    q = load["queue_operations"]
    verdicts = [("errors", f"<= {t.max_errors}", load["errors"] + s["capacity"]["failures"] + s["baseline"]["failures"],
                 lambda v: v <= t.max_errors),
                ("calls timed on screens", "> 0", load["call_to_screen"]["count"], lambda v: v > 0),
                ("sockets held at the end", f">= {t.min_held_share:.0%} of {profile.screens}", load["sockets"]["held_at_end"],
                 lambda v: v >= t.min_held_share * profile.screens)]
    if t.ops_p99_ms is not None:
        verdicts.append(("queue operation p99 (worst operation), ms", f"< {t.ops_p99_ms}", q["worst_p99_ms"],
                         lambda v: v is not None and v < t.ops_p99_ms))
    if t.min_rate_share is not None:
        verdicts.append(("queue operations/s (that did something)", f">= {t.min_rate_share:.0%} of {profile.ops_per_s}",
                         q["per_s"],
                         lambda v: v is not None and v >= t.min_rate_share * profile.ops_per_s))
    if t.call_p99_ms is not None:
        verdicts.append(("call->screen p99, ms", f"< {t.call_p99_ms}", load["call_to_screen"]["p99_ms"],
                         lambda v: v is not None and v < t.call_p99_ms))
    if t.min_baseline_ratio is not None:
        verdicts.append(("capacity / bare baseline", f">= {t.min_baseline_ratio}", s["capacity"]["ratio_to_baseline"],
                         lambda v: v is not None and v >= t.min_baseline_ratio))
    return [{"target": name, "want": want, "got": got, "met": bool(ok(got))} for name, want, got, ok in verdicts]
