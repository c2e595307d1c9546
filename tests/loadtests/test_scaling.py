"""The scaling table (``loadtests/scaling.py``) from recorded summaries (tests/loadtests/recorded/scaling:
real runs' summary.json trimmed to the figures the table reads), its answers worked out by hand."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from loadtests.scaling import COLUMNS, point, table

RECORDED = Path(__file__).parent / "recorded" / "scaling"


def summary(name: str) -> dict:
    return json.loads((RECORDED / f"{name}.json").read_text())


def test_a_point_takes_throughput_latency_and_cpu_per_thousand_operations_from_a_summary() -> None:
    assert point(summary("single-1")) == {
        "redis": "single", "instances": 1,
        "capacity_per_s": 874.1, "baseline_per_s": 4410.7,
        "load_per_s": 94.4, "load_asked_per_s": 100, "ops_p99_ms": 280.0, "call_p99_ms": 135,
        # ms of CPU per operation is seconds per 1,000 operations
        "server_cpu_s_per_1000": {"capacity": 0.501, "load": 1.334},
        "redis_cpu_s_per_1000": {"capacity": 0.137, "load": 0.349},
        "errors": 0, "load_avg": 3.08,
    }


def test_errors_count_every_phase() -> None:
    s = summary("cluster-1")
    s["baseline"]["failures"], s["capacity"]["failures"], s["load"]["errors"] = 1, 2, 4
    row = point(s)
    assert row["redis"] == "cluster" and row["errors"] == 7


def test_a_summary_from_before_the_redis_kind_and_without_redis_on_this_machine() -> None:
    s = summary("single-1")
    del s["machine"]["redis"], s["capacity"]["redis_cpu_ms_per_op"], s["load"]["redis_cpu_ms_per_op"]
    row = point(s)
    assert row["redis"] == "single"
    assert row["redis_cpu_s_per_1000"] == {"capacity": None, "load": None}
    assert "| – / – |" in table([row])


def test_the_table_lists_one_redis_then_the_cluster_each_by_instances() -> None:
    single_1, cluster_1 = point(summary("single-1")), point(summary("cluster-1"))
    single_2 = copy.deepcopy(single_1) | {"instances": 2, "capacity_per_s": 1203.46}
    lines = table([cluster_1, single_2, single_1]).splitlines()
    assert lines[0] == "| " + " | ".join(h for h, _ in COLUMNS) + " |"
    assert lines[1] == "|" + "---|" * len(COLUMNS)
    assert lines[2:] == [
        "| one Redis | 1 | 874 | 4,411 | 94 / 100 | 280 | 135 | 0.50 / 1.33 | 0.14 / 0.35 | 0 | 3.08 |",
        "| one Redis | 2 | 1,203 | 4,411 | 94 / 100 | 280 | 135 | 0.50 / 1.33 | 0.14 / 0.35 | 0 | 3.08 |",
        "| 3-master cluster | 1 | 172 | 703 | 94 / 100 | 460 | 205 | 0.94 / 2.08 | 0.28 / 0.56 | 0 | 10.30 |",
    ]
