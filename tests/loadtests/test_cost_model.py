"""The cost model's arithmetic: a term's cost is the slope of the server's CPU over its units a
second, less what another term already accounts for, and each point's own cost shows batching."""
from __future__ import annotations

from loadtests.cost_model import fit, term


def test_a_line_through_the_points() -> None:
    line = fit([0, 100, 200, 400], [1.0, 11.0, 21.0, 41.0])
    assert (round(line["slope"], 6), round(line["intercept"], 6), line["r2"]) == (0.1, 1.0, 1.0)


def test_a_term_costs_its_slope_in_microseconds_less_what_another_term_accounts_for() -> None:
    # 1 % of a core idle, then 100 µs of CPU for each unit a second
    points = [{"units_per_s": u, "server_cpu_pct": 1.0 + u * 100 / 1e4} for u in (0, 1000, 2000, 4000)]
    t = term("incoming frame", "frame", points, "units_per_s", less=30.0)
    assert (t["cpu_us"], t["slope_us"], t["intercept_cpu_pct"], t["r2"]) == (70.0, 100.0, 1.0, 1.0)
    assert [p["cpu_us_each"] for p in t["points"][1:]] == [70.0, 70.0, 70.0]


def test_each_point_shows_a_cost_that_falls_with_the_rate() -> None:
    # 2 ms an operation at 100 a second, 1 ms at 400: work per wakeup that batches
    points = [{"units_per_s": 0, "server_cpu_pct": 1.0}, {"units_per_s": 100, "server_cpu_pct": 21.0},
              {"units_per_s": 400, "server_cpu_pct": 41.0}]
    assert [p["cpu_us_each"] for p in term("queue operation", "op", points, "units_per_s")["points"][1:]] == [2000.0, 1000.0]
