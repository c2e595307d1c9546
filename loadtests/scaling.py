"""How throughput and cost follow the number of server instances, on one Redis and on a 3-master Redis
Cluster (docs/scale.md, "Measured"):

    python -m loadtests.scaling --profile district --servers 1,2,4

runs ``loadtests/run``'s three phases once per point (Redis kind × instances; each point its own
embedded Redis or cluster, database and key prefix) with short windows, and writes each point's
``summary.json`` and, after every point (an interrupted matrix keeps what it measured),
``scaling.json`` and ``scaling.md``: the table below, also printed.

- throughput: the capacity phase's closed-loop queue operations a second (whole visits, no pause):
  what N instances can do, next to the bare baseline (one script call per request, on the same stack);
- the load phase at the profile's rate: the operations a second it got, the worst operation's p99
  and the call→screen p99;
- CPU seconds per 1,000 operations (= ms per operation), summed over the server processes and over
  Redis's processes (every node of a cluster), at saturation (capacity) and at the profile's rate
  with every screen connected (load).

REDIS_URL is not used: both kinds are started for the run, so they compare on the same machine."""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

from .harness import REDIS_KINDS, ROOT
from .profiles import ORDER, PROFILES
from .runner import run

COLUMNS = [   # (heading, key of the row)
    ("Redis", "redis"), ("instances", "instances"),
    ("capacity ops/s", "capacity_per_s"), ("bare baseline ops/s", "baseline_per_s"),
    ("load ops/s got / asked", "load_per_s"), ("worst op p99 ms", "ops_p99_ms"), ("call→screen p99 ms", "call_p99_ms"),
    ("server CPU s / 1,000 ops (capacity / load)", "server_cpu"), ("Redis CPU s / 1,000 ops (capacity / load)", "redis_cpu"),
    ("errors", "errors"), ("load avg (1 min) before", "load_avg"),
]


def point(summary: dict[str, Any]) -> dict[str, Any]:
    """One row of the table from a run's summary.json. CPU in ms per operation is CPU seconds per
    1,000 operations: the same number."""
    cap, load = summary["capacity"], summary["load"]
    q = load["queue_operations"]
    return {
        "redis": summary["machine"].get("redis", "single"),
        "instances": summary["model"]["server_processes"],
        "capacity_per_s": cap["per_s"],
        "baseline_per_s": summary["baseline"]["per_s"],
        "load_per_s": q["per_s"], "load_asked_per_s": q["target_per_s"],
        "ops_p99_ms": q["worst_p99_ms"],
        "call_p99_ms": load["call_to_screen"]["p99_ms"],
        "server_cpu_s_per_1000": {"capacity": cap.get("server_cpu_ms_per_op"), "load": load.get("server_cpu_ms_per_op")},
        "redis_cpu_s_per_1000": {"capacity": cap.get("redis_cpu_ms_per_op"), "load": load.get("redis_cpu_ms_per_op")},
        "errors": load["errors"] + cap["failures"] + summary["baseline"]["failures"],
        "load_avg": summary["machine"]["load_avg_before"][0],
    }


def _num(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def _cells(row: dict[str, Any]) -> dict[str, str]:
    server, redis = row["server_cpu_s_per_1000"], row["redis_cpu_s_per_1000"]
    return {
        "redis": "3-master cluster" if row["redis"] == "cluster" else "one Redis",
        "instances": str(row["instances"]),
        "capacity_per_s": _num(row["capacity_per_s"]),
        "baseline_per_s": _num(row["baseline_per_s"]),
        "load_per_s": f"{_num(row['load_per_s'])} / {_num(row['load_asked_per_s'])}",
        "ops_p99_ms": _num(row["ops_p99_ms"]),
        "call_p99_ms": _num(row["call_p99_ms"]),
        "server_cpu": f"{_num(server['capacity'], 2)} / {_num(server['load'], 2)}",
        "redis_cpu": f"{_num(redis['capacity'], 2)} / {_num(redis['load'], 2)}",
        "errors": str(row["errors"]),
        "load_avg": _num(row["load_avg"], 2),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, by Redis kind (one Redis first) then instances."""
    ordered = sorted(rows, key=lambda r: (REDIS_KINDS.index(r["redis"]), r["instances"]))
    lines = ["| " + " | ".join(h for h, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in ordered:
        cells = _cells(row)
        lines.append("| " + " | ".join(cells[k] for _, k in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.scaling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=ORDER, default="district")
    parser.add_argument("--servers", default="1,2,4", help="instance counts, comma-separated (default 1,2,4)")
    parser.add_argument("--redis", default=",".join(REDIS_KINDS), help="Redis kinds, comma-separated (default single,cluster)")
    parser.add_argument("--measure", type=int, default=30, help="seconds of each point's load window (default 30)")
    parser.add_argument("--capacity", type=int, default=15, help="seconds of each closed-loop window (default 15)")
    parser.add_argument("--out", type=Path, help="folder (default loadtests/results/scaling-PROFILE-TIME)")
    a = parser.parse_args()
    kinds = a.redis.split(",")
    if unknown := set(kinds) - set(REDIS_KINDS):
        parser.error(f"unknown Redis kind(s): {', '.join(sorted(unknown))}")
    os.environ.pop("REDIS_URL", None)   # each kind is started for the run (see the docstring)
    out = a.out or ROOT / "loadtests" / "results" / f"scaling-{a.profile}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        for n in (int(s) for s in a.servers.split(",")):
            profile = dataclasses.replace(PROFILES[a.profile], servers=n, measure_s=a.measure, capacity_s=a.capacity)
            here = out / f"{kind}-{n}"
            print(f"== {kind} Redis, {n} instance(s) -> {here}", flush=True)
            summary = asyncio.run(run(profile, here, redis_kind=kind))
            (here / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
            rows.append(point(summary))
            (out / "scaling.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
            (out / "scaling.md").write_text(table(rows), encoding="utf-8")
    print(table(rows))
    print(f"table: {out / 'scaling.md'}")


if __name__ == "__main__":
    main()
