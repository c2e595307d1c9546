"""The arithmetic that turns a run's files into summary.json and the verdict, on a small recorded run
(tests/loadtests/recorded: Locust's JSON stats, failures and exceptions CSVs, the workers' tallies,
the measured windows) whose answers were worked out by hand."""
from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from loadtests.city import CitySize
from loadtests.profiles import Profile, Targets
from loadtests.server_metrics import loop_lag, scrape_text
from loadtests.summary import (QUEUE_OPS, _hist_percentile, _merge, capacity_ratios, closed_loop, episodes, figures,
                               judge, load_phase, read_exceptions, read_failures, read_stats, rounds_pooled, tallies,
                               window)

RUN = Path(__file__).parent / "recorded"
# One center and one point (45 + 2 screens); 11 queue operations a second wanted.
PROFILE = Profile("recorded", CitySize(1, 1), ops_per_s=11, measure_s=20,
                  targets=Targets(ops_p99_ms=150, call_p99_ms=50, min_rate_share=0.9, min_baseline_ratio=0.3,
                                  max_errors=4, min_held_share=0.99))


@pytest.mark.parametrize("p, ms", [(50, 2), (95, 10), (99, 40), (100, 40), (1, 2)])
def test_a_percentile_is_the_smallest_time_that_many_requests_took_at_most(p: float, ms: float) -> None:
    hist = {2.0: 50, 3.0: 30, 10.0: 15, 40.0: 5}       # 100 requests
    assert _hist_percentile(hist, p) == ms


def test_no_requests_have_no_percentile() -> None:
    assert _hist_percentile({}, 50) is None
    assert figures([], 10.0) == {"count": 0, "per_s": 0.0, "failures": 0, "p50_ms": None, "p95_ms": None,
                                 "p99_ms": None, "max_ms": None}


def test_histograms_merge_by_time_whatever_the_key_type() -> None:
    merged = _merge([{"response_times": {"3": 30, "10": 15}}, {"response_times": {"3.0": 20, "4": 1}}])
    assert merged == {3.0: 50, 10.0: 15, 4.0: 1}


def test_figures_of_several_operations_come_from_their_merged_histogram() -> None:
    by_name = {e["name"]: e for e in read_stats(RUN, "load")}
    f = figures([by_name["issue"], by_name["call-next"], by_name["start"]], 20.0)
    # 180 requests: 2 ms ×50, 3 ×50, 4 ×30, 5 ×20, 10 ×15, 40 ×5, 120 ×10
    assert f == {"count": 180, "per_s": 9.0, "failures": 1, "p50_ms": 3.0, "p95_ms": 120.0, "p99_ms": 120.0,
                 "max_ms": 123}
    assert figures([by_name["issue"]], 0.0)["per_s"] is None    # no measured window, no rate


def test_the_measured_window_of_a_phase() -> None:
    assert window(RUN, "load") == (1000.0, 1020.0)
    assert window(RUN, "unfinished") is None      # the run never marked its end
    assert window(RUN, "never") is None


def test_failures_most_frequent_first_and_exceptions_counted() -> None:
    assert read_failures(RUN, "load") == [
        {"name": "dropped", "error": "closed 1013 send queue overflow", "count": 2},
        {"name": "call-next", "error": '409 {"code": "window_busy"}', "count": 1}]
    assert read_failures(RUN, "load", limit=1)[0]["name"] == "dropped"
    assert read_exceptions(RUN, "load") == 1
    assert read_failures(RUN, "capacity") == [] and read_exceptions(RUN, "capacity") == 0


def test_the_workers_tallies_add_up_and_their_latencies_merge() -> None:
    t = tallies(RUN, "load")
    assert (t["held"], t["low"], t["peak"]) == (47, 45, 48)
    assert t["counts"] == {"snapshots": 48, "events": 600, "call_next_empty": 40, "sms_replies": 3, "resumes": 2}
    # every call: 5 10 15 20 25 30 40 ms
    assert t["call_to_screen"] == {
        "count": 7, "p50_ms": 20, "p99_ms": 40, "max_ms": 40,
        "by_device": {"display": {"count": 3, "p50_ms": 20, "p99_ms": 30, "max_ms": 30},
                      "screen": {"count": 1, "p50_ms": 15, "p99_ms": 15, "max_ms": 15},
                      "tablet": {"count": 3, "p50_ms": 25, "p99_ms": 40, "max_ms": 40}}}


def test_the_load_phase_counts_empty_call_nexts_apart() -> None:
    load = load_phase(RUN, PROFILE)
    q = load["queue_operations"]
    assert load["seconds"] == 20.0
    assert (q["count"], q["per_s"], q["failures"], q["worst_p99_ms"]) == (180, 9.0, 1, 120.0)
    assert set(q["by_operation"]) == {"issue", "call-next", "start"}
    assert q["by_operation"]["call-next"]["count"] == 60          # the 40 empty ones are not in it
    assert (q["empty"]["count"], q["empty"]["per_s"]) == (40, 2.0)
    assert load["reads"]["status page"]["per_s"] == 0.5
    assert load["call_to_screen"]["p99_ms"] == 40
    s = load["sockets"]
    assert (s["planned"], s["held_at_end"], s["lowest"], s["peak"], s["dropped"]) == (47, 47, 45, 48, 2)
    assert (s["opened"]["count"], s["opened"]["per_s"], s["snapshots"], s["resumes"], s["resets"]) == (6, 0.3, 48, 2, 0)
    assert load["clerks"]["call_next_empty"] == 40 and load["sms_replies"] == 3
    assert load["errors"] == 1 + 2 + 1        # call-next's failure, two drops, one exception in a user


def test_a_load_phase_run_as_screens_and_desks_sums_up_as_one_run() -> None:
    """runner.py runs the screens and the desks as two Locust runs: their stats, failures, exceptions
    and tallies, each in its part's files, give the figures of the same users run as one. (A folder of
    its own, not pytest's ``tmp_path``: this file runs in the README's fresh-clone slice, where making
    pytest's base folder closes it to the embedded PostgreSQL's own user, which then cannot stop.)"""
    with tempfile.TemporaryDirectory(prefix="qs-summary-") as folder:
        run = Path(folder)
        split_into_parts(run)
        assert load_phase(run, PROFILE) == load_phase(RUN, PROFILE)


def split_into_parts(folder: Path) -> None:
    """The recorded run's files as the screens' part and the desks' part would have written them."""
    for f in RUN.iterdir():
        if f.is_file():
            shutil.copy(f, folder)
    screens = {"open", "dropped"}
    entries = json.loads((RUN / "load.json").read_text())
    (folder / "load.json").write_text(json.dumps([e for e in entries if e["name"] in screens]))
    (folder / "load-desks.json").write_text(json.dumps([e for e in entries if e["name"] not in screens]))
    with (RUN / "load_failures.csv").open() as f:
        rows = list(csv.DictReader(f))
    for name, part in (("load_failures.csv", [r for r in rows if r["Name"] in screens]),
                       ("load-desks_failures.csv", [r for r in rows if r["Name"] not in screens])):
        with (folder / name).open("w", newline="") as f:
            out = csv.DictWriter(f, fieldnames=list(rows[0]))
            out.writeheader()
            out.writerows(part)
    shutil.move(folder / "load_exceptions.csv", folder / "load-desks_exceptions.csv")
    shutil.move(folder / "worker-load-1.json", folder / "worker-load-desks-0.json")


def test_closed_loop_phases_count_what_did_something() -> None:
    capacity = closed_loop(RUN, "capacity", QUEUE_OPS)
    assert (capacity["seconds"], capacity["count"], capacity["per_s"], capacity["failures"]) == (4.0, 76, 19.0, 0)
    assert set(capacity["operations"]) == {"issue", "call-next"}
    assert (capacity["empty"]["count"], capacity["empty"]["per_s"]) == (4, 1.0)
    baseline = closed_loop(RUN, "baseline", ("baseline op",))
    assert (baseline["per_s"], baseline["p50_ms"], baseline["p95_ms"], baseline["max_ms"]) == (50.0, 1.0, 2.0, 2)


def test_the_verdict_judges_the_rate_of_operations_that_did_something() -> None:
    capacity = closed_loop(RUN, "capacity", QUEUE_OPS)
    baseline = closed_loop(RUN, "baseline", ("baseline op",))
    capacity["ratio_to_baseline"] = round(capacity["per_s"] / baseline["per_s"], 2)
    verdict = {v["target"]: v for v in judge(PROFILE, {"load": load_phase(RUN, PROFILE), "capacity": capacity,
                                                        "baseline": baseline})}
    assert {name: (v["got"], v["met"]) for name, v in verdict.items()} == {
        "errors": (4, True),
        "calls timed on screens": (7, True),
        "sockets held at the end": (47, True),
        "queue operation p99 (worst operation), ms": (120.0, True),
        # 9.0/s did something; with the 2.0/s empty call-nexts it would have passed 90 % of 11
        "queue operations/s (that did something)": (9.0, False),
        "call->screen p99, ms": (40, True),
        "capacity / bare baseline": (0.38, True),
    }


def test_a_phase_run_in_rounds_reads_as_one_with_its_cpu_per_operation_over_every_operation() -> None:
    """The capacity phase and the paced baseline run in turn (``Profile.capacity_rounds``): requests
    and measured seconds add up, percentiles come from every request, and the CPU per operation is
    the rounds' CPU over their operations, not the mean of two readings."""
    with tempfile.TemporaryDirectory(prefix="qs-summary-") as folder:
        run = Path(folder)
        for f in RUN.iterdir():
            if f.is_file():
                shutil.copy(f, run)
        (run / "capacity-2.json").write_text(json.dumps([
            {"name": "issue", "num_requests": 20, "num_failures": 1, "max_response_time": 51, "response_times": {"50": 20}},
            {"name": "call-next", "num_requests": 20, "num_failures": 0, "max_response_time": 7, "response_times": {"7": 20}}]))
        (run / "window-capacity-2.json").write_text(json.dumps({"start": 3000.0, "end": 3002.0}))
        both = closed_loop(run, ("capacity", "capacity-2"), QUEUE_OPS)
        # 4 s + 2 s; 5 ms ×40, 6 ×36, 7 ×20, 50 ×20: 116 requests, the 4 empty call-nexts apart
        assert (both["seconds"], both["count"], both["per_s"], both["failures"]) == (6.0, 116, 19.3, 1)
        assert (both["p50_ms"], both["p99_ms"], both["max_ms"]) == (6.0, 50.0, 51)
        assert both["operations"]["call-next"]["count"] == 56 and both["empty"]["count"] == 4
        first = {**closed_loop(run, "capacity", QUEUE_OPS), "server_cpu_ms_per_op": 0.2, "server_busy_pct": 50.0}
        second = {**closed_loop(run, "capacity-2", QUEUE_OPS), "server_cpu_ms_per_op": 0.3, "server_busy_pct": 70.0}
        pooled = rounds_pooled(run, [("capacity", first), ("capacity-2", second)], QUEUE_OPS)
        # (76 × 0.2 + 40 × 0.3) / 116 ms of CPU an operation
        assert (pooled["server_cpu_ms_per_op"], pooled["server_busy_pct"], pooled["count"]) == (0.234, 60.0, 116)
        assert [(r["phase"], r["server_cpu_ms_per_op"]) for r in pooled["rounds"]] == [("capacity", 0.2), ("capacity-2", 0.3)]
        assert "redis_cpu_ms_per_op" not in pooled    # read in neither round
        assert rounds_pooled(run, [("capacity", first)], QUEUE_OPS) is first


def test_capacity_is_judged_per_second_of_server_cpu_not_by_how_the_cores_were_shared() -> None:
    # the baseline's server did 2,658 requests/s at 0.208 ms of CPU each (55 % busy), ours 1,416
    # operations/s at 0.507 ms (72 % busy): neither saturated, so the closed loop's 0.53 is not capacity
    baseline = {"per_s": 2658.2, "server_cpu_ms_per_op": 0.208}
    capacity = {"per_s": 1416.3, "server_cpu_ms_per_op": 0.507}
    assert capacity_ratios(baseline, capacity) == {"ratio_to_baseline": 0.41, "saturated_ratio_to_baseline": 0.41,
                                                   "throughput_ratio_to_baseline": 0.53}
    assert capacity_ratios({"per_s": 0.0}, {"per_s": 10.0}) == {
        "ratio_to_baseline": None, "saturated_ratio_to_baseline": None, "throughput_ratio_to_baseline": None}
    # the baseline run again after ours: the mean of the two, the machine's drift between them cancelled
    drifted = {**baseline, "after": {"per_s": 2400.0, "server_cpu_ms_per_op": 0.25}}
    assert capacity_ratios(drifted, capacity) == {"ratio_to_baseline": round(0.229 / 0.507, 2),
                                                  "saturated_ratio_to_baseline": round(0.229 / 0.507, 2),
                                                  "throughput_ratio_to_baseline": round(1416.3 / 2529.1, 2)}


def test_the_judged_ratio_compares_cpu_per_request_at_our_rate() -> None:
    # saturated, the bare server pays no wakeup between requests (0.078 ms each); paced at our 3,942 a
    # second it pays them as ours does (0.095): the judged ratio is the paced one, the other reported
    baseline = {"per_s": 12816.7, "server_cpu_ms_per_op": 0.078, "after": {"per_s": 12653.8, "server_cpu_ms_per_op": 0.078},
                "paced": {"per_s": 3940.0, "server_cpu_ms_per_op": 0.095}}
    capacity = {"per_s": 3942.2, "server_cpu_ms_per_op": 0.19}
    assert capacity_ratios(baseline, capacity) == {"ratio_to_baseline": 0.5, "saturated_ratio_to_baseline": 0.41,
                                                   "throughput_ratio_to_baseline": 0.31}


SCRAPE = """# HELP event_loop_lag_seconds How late a timer due every 0.05 s ran
event_loop_lag_seconds_bucket{{le="0.001"}} {a}
event_loop_lag_seconds_bucket{{le="0.01"}} {b}
event_loop_lag_seconds_bucket{{le="0.1"}} {c}
event_loop_lag_seconds_bucket{{le="+Inf"}} {c}
event_loop_lag_seconds_count {c}
gc_pause_seconds_bucket{{generation="0",le="0.001"}} {g}
gc_pause_seconds_bucket{{generation="0",le="0.1"}} {g}
gc_pause_seconds_bucket{{generation="0",le="+Inf"}} {g}
gc_pause_seconds_bucket{{generation="2",le="0.001"}} 0.0
gc_pause_seconds_bucket{{generation="2",le="0.1"}} {full}
gc_pause_seconds_bucket{{generation="2",le="+Inf"}} {full}
gc_cpu_seconds_bucket{{generation="2",le="0.001"}} 0.0
gc_cpu_seconds_bucket{{generation="2",le="0.01"}} {full}
gc_cpu_seconds_bucket{{generation="2",le="+Inf"}} {full}
event_loop_stall_samples_total{{where="hub.publish"}} {hub}
event_loop_stall_samples_total{{where="endpoints.listen > protocol.recv"}} 2.0
http_request_duration_seconds_bucket{{method="GET",route="/x",status="200",le="+Inf"}} 5.0
"""


def test_the_loop_lag_over_a_window_is_what_the_window_added() -> None:
    before = scrape_text(SCRAPE.format(a=100.0, b=100.0, c=100.0, g=5.0, full=0.0, hub=1.0))
    # 1,000 ticks in the window: 980 under 1 ms, 15 under 10 ms, 5 under 100 ms; 40 young collections, one full
    # (10 ms of CPU in its 100 ms pause) and the loop's thread seen 3 more times stalled in the hub's publish
    after = scrape_text(SCRAPE.format(a=1080.0, b=1095.0, c=1100.0, g=45.0, full=1.0, hub=4.0))
    assert loop_lag(before, after) == {"loop_lag_ticks": 1000, "loop_lag_p99_le_ms": 10.0,
                                       "loop_lag_max_le_ms": 100.0, "gc_pauses": 41, "gc_pause_max_le_ms": 100.0,
                                       "gc_by_generation": {"0": {"pauses": 40, "max_le_ms": 1.0},
                                                            "2": {"pauses": 1, "max_le_ms": 100.0, "max_cpu_le_ms": 10.0}},
                                       "stalled_in": {"hub.publish": 3}}
    assert loop_lag({}, scrape_text("http_request_duration_seconds_count 3.0")) == {}   # a server without the monitor


def test_the_slowest_operations_are_found_in_their_episodes() -> None:
    """2,000 operations of 5 ms over 20 s, two servers in turn, and 20 slow ones: 12 of 80-91 ms begun
    within 0.11 s of each other at 4 s, all at server A; 8 at 12 s spread over both. The slowest 1 %
    are the 20, in two episodes; a status page and what was begun before the window are not counted."""
    a, b, start = "http://a", "http://b", 1000.0
    answered = [[start + i * 0.01 + 0.005, 5.0, "issue", (a, b)[i % 2]] for i in range(2000)]
    answered += [[start + 4 + i * 0.01 + (80 + i) / 1000, 80.0 + i, "call-next", a] for i in range(12)]
    answered += [[start + 12 + i * 0.02 + 0.06, 60.0, "finish", (a, b)[i % 2]] for i in range(8)]
    answered += [[start + 9 + 0.5, 500.0, "status page", a], [start + 0.05, 900.0, "issue", a]]
    # Not tmp_path: the README test runs this file in a clone inside its own tmp_path, and the inner
    # pytest's base folder left the clone's embedded PostgreSQL unable to run pg_ctl when it stopped.
    with tempfile.TemporaryDirectory(prefix="qs-summary-") as folder:
        run = Path(folder)
        (run / "worker-load-desks-0.json").write_text(json.dumps({"requests": answered}))
        (run / "worker-load-0.json").write_text(json.dumps({"held": 0}))   # a screens' worker: no requests
        found = episodes(run, "load", (start, start + 20))
        assert episodes(run, "capacity", (start, start + 20)) == {}   # a phase whose workers kept none
    assert found["threshold_ms"] == 60.0 and found["slow"] == 20 and found["episodes"] == 2
    assert found["largest_5_share"] == 1.0
    first, second = found["largest"]
    assert (first["slow"], first["worst_ms"], first["most_on"], first["most_on_share"]) == (12, 91.0, a, 1.0)
    assert first["at_s"] == 4.0 and first["lasting_s"] == 0.2 and first["answered"] == 12 + 12
    assert (second["slow"], second["most_on_share"]) == (8, 0.5)
    assert second["from"] == start + 12 and second["to"] == start + 12 + 7 * 0.02 + 0.06
