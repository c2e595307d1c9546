"""The network's pure rules: legal status changes, overlapping ranges, who serves a point when."""
from __future__ import annotations

import pytest

from queue_server.domain.network import (Assignment, may_change, overlapping, parse_hhmm, point_id, served_points,
                                         serving_windows, split_point_id)


def test_status_changes_only_forward_and_closed_is_final() -> None:
    assert may_change("planned", "active") and may_change("active", "suspended") and may_change("suspended", "active")
    assert may_change("active", "closed") and may_change("planned", "closed")
    assert not may_change("closed", "active") and not may_change("active", "planned")
    assert not may_change("active", "active") and not may_change("suspended", "planned")


def test_ranges_of_one_window_and_point_may_touch_but_not_overlap() -> None:
    morning = Assignment(1, "r1", "sp1", parse_hhmm("08:30"), parse_hhmm("12:00"))
    assert overlapping(Assignment(0, "r1", "sp1", parse_hhmm("12:00"), parse_hhmm("16:30")), [morning]) is None
    assert overlapping(Assignment(0, "r1", "sp1", parse_hhmm("11:59"), parse_hhmm("13:00")), [morning]) == morning
    assert overlapping(Assignment(0, "r2", "sp1", parse_hhmm("09:00"), parse_hhmm("10:00")), [morning]) is None
    assert overlapping(Assignment(0, "r1", "sp2", parse_hhmm("09:00"), parse_hhmm("10:00")), [morning]) is None


def test_a_clerk_covers_some_points_in_the_morning_and_others_after_lunch() -> None:
    day = tuple(Assignment(i, "r1", p, parse_hhmm(s), parse_hhmm(e, True)) for i, (p, s, e) in enumerate(
        [("a", "08:30", "12:00"), ("b", "08:30", "12:00"), ("d", "13:00", "24:00")]))
    assert served_points(day, "r1", parse_hhmm("09:00")) == ("a", "b")
    assert served_points(day, "r1", parse_hhmm("12:30")) == ()
    assert served_points(day, "r1", parse_hhmm("23:59")) == ("d",)
    assert serving_windows(day, "a", parse_hhmm("11:59")) == ("r1",) and serving_windows(day, "a", parse_hhmm("12:00")) == ()


@pytest.mark.parametrize("text", ["8:30", "24:01", "12:60", "ab:cd", "", "24:00"])
def test_times_of_day_are_hh_mm_within_the_day(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(text)


def test_a_point_id_splits_back_into_center_and_code() -> None:
    assert split_point_id(point_id("jingansi", "sp_1")) == ("jingansi", "sp_1")
