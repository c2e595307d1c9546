"""The wait estimates never promise "any moment" (the pages' 即将轮到, under half a minute) while
people are ahead, however quick the day's finishes have made the live average."""
from __future__ import annotations

import pytest

from queue_server.domain.policy import simulate
from queue_server.domain.wait import (AHEAD_MIN_S, PRIOR_WEIGHT, Outlook, RecentHandling, calls_before, estimate_wait_s,
                                      handling_s)


def test_nobody_ahead_is_now() -> None:
    assert estimate_wait_s(0, 0.0, 1, 600) == 0
    assert estimate_wait_s(0, 900.0, 3, 600) == 0


@pytest.mark.parametrize("avg", [0.0, 0.4, 3.0])
def test_a_near_zero_day_average_falls_back_to_the_typical_time(avg: float) -> None:
    # three ahead, one window, a matter typically taking 10 minutes: at least 3 × 5 minutes
    assert estimate_wait_s(3, avg, 1, 600) == 900
    assert estimate_wait_s(3, avg, 3, 600) == 300


def test_anyone_ahead_is_at_least_a_minute() -> None:
    assert estimate_wait_s(1, 0.0, 20, 60) == AHEAD_MIN_S
    assert estimate_wait_s(3, 0.0, 1) == AHEAD_MIN_S        # no typical time known
    assert estimate_wait_s(1, 10.0, 1) == AHEAD_MIN_S


def test_a_real_average_above_the_floor_is_used() -> None:
    assert estimate_wait_s(4, 700.0, 2, 600) == 1400


# --- the estimate a resident is told (Outlook) ---------------------------------------------------



@pytest.mark.parametrize("cycle", ["PN", "PNN", "PPNNN"])
@pytest.mark.parametrize("priority", [0, 1, 4, 9])
@pytest.mark.parametrize("normal", [1, 2, 7])
def test_calls_before_follow_the_policys_cycle(cycle: str, priority: int, normal: int) -> None:
    order = simulate(cycle, priority, normal)
    for k in range(normal):          # the k-th normal ticket (k ahead of it in its class)
        assert calls_before(cycle, "n", k, priority, 0) == [i for i, c in enumerate(order) if c == "N"][k]
    order = simulate(cycle, normal, priority)
    for k in range(normal):          # the k-th priority ticket with `priority` normal ones waiting
        assert calls_before(cycle, "p", k, 0, priority) == [i for i, c in enumerate(order) if c == "P"][k]
    assert calls_before(cycle, "w", normal, priority, priority) == normal


def test_the_median_resists_a_burst_of_instant_finishes_and_the_prior_rules_while_samples_are_few() -> None:
    recent = RecentHandling.of
    assert recent([]) is None and handling_s(None, 600) == 600
    assert handling_s(recent([60]), 600) == pytest.approx((60 + PRIOR_WEIGHT * 600) / (1 + PRIOR_WEIGHT))
    many = [300.0] * 15 + [0.0] * 5           # a clerk closed five tickets at once
    assert handling_s(recent(many), 600) == pytest.approx((20 * 300 + PRIOR_WEIGHT * 600) / (20 + PRIOR_WEIGHT))
    assert handling_s(recent([0.0] * 25), 600) == 300  # never under half the typical time
    assert recent([10.0, 40.0, 20.0, 30.0]) == RecentHandling(4, 25.0)
    assert RecentHandling.parse("4 25") == RecentHandling(4, 25.0)


def test_the_people_ahead_count_by_their_own_matters() -> None:
    typical = {"long": 1200.0, "short": 120.0}
    behind_long = Outlook("n", 3, 0, 0, 1, mix={"long": 3})
    behind_short = Outlook("n", 3, 0, 0, 1, mix={"short": 3})
    assert behind_long.wait_s("PNN", typical, 600) == round(3.5 * 1200)
    assert behind_short.wait_s("PNN", typical, 600) == round(3.5 * 120)
    mixed = Outlook("n", 3, 0, 0, 2, mix={"long": 1, "short": 2}, recent={"short": RecentHandling(20, 60.0)})
    per_call = (1200 + 2 * handling_s(RecentHandling(20, 60.0), 120)) / 3
    assert mixed.wait_s("PNN", typical, 600) == round(3.5 * per_call / 2)


def test_priority_calls_interleaved_make_a_normal_ticket_wait_longer() -> None:
    typical = {"m": 600.0}
    alone = Outlook("n", 2, 0, 0, 1, mix={"m": 2})
    with_priority = Outlook("n", 2, 5, 0, 1, mix={"m": 2})
    assert with_priority.wait_s("PNN", typical, 600) == round((4 + 0.5) * 600)   # P N N P me
    assert alone.wait_s("PNN", typical, 600) == round(2.5 * 600)
    assert Outlook("n", 0, 0, 0, 3).wait_s("PNN", typical, 600) == 0
