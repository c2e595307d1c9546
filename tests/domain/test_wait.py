"""The wait estimate never promises "any moment" (the pages' 即将轮到, under half a minute) while
people are ahead, however quick the day's finishes have made the live average."""
from __future__ import annotations

import pytest

from queue_server.domain.wait import AHEAD_MIN_S, estimate_wait_s


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
