"""The network's pure rules: legal status changes, overlapping ranges, who serves a point when (on
which weekday, at which minute)."""
from __future__ import annotations

import pytest

from datetime import datetime
from zoneinfo import ZoneInfo

from queue_server.domain.network import (Assignment, local_moment, may_change, overlapping, parse_hhmm, point_id,
                                         served_points, serving_windows, split_point_id, weekdays_of)

MON, WED, THU = 1, 3, 4


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


def test_ranges_on_days_they_do_not_share_do_not_overlap() -> None:
    mon_wed = Assignment(1, "r1", "sp1", parse_hhmm("08:30"), parse_hhmm("12:00"), frozenset({MON, WED}))
    assert overlapping(Assignment(0, "r1", "sp1", parse_hhmm("09:00"), parse_hhmm("10:00"), frozenset({THU})), [mon_wed]) is None
    assert overlapping(Assignment(0, "r1", "sp1", parse_hhmm("09:00"), parse_hhmm("10:00"), frozenset({WED, THU})),
                       [mon_wed]) == mon_wed
    assert overlapping(Assignment(0, "r1", "sp1", parse_hhmm("09:00"), parse_hhmm("10:00")), [mon_wed]) == mon_wed


def test_a_clerk_covers_some_points_in_the_morning_and_others_after_lunch() -> None:
    day = tuple(Assignment(i, "r1", p, parse_hhmm(s), parse_hhmm(e, True)) for i, (p, s, e) in enumerate(
        [("a", "08:30", "12:00"), ("b", "08:30", "12:00"), ("d", "13:00", "24:00")]))
    assert served_points(day, "r1", (MON, parse_hhmm("09:00"))) == ("a", "b")
    assert served_points(day, "r1", (MON, parse_hhmm("12:30"))) == ()
    assert served_points(day, "r1", (MON, parse_hhmm("23:59"))) == ("d",)
    assert serving_windows(day, "a", (MON, parse_hhmm("11:59"))) == ("r1",)
    assert serving_windows(day, "a", (MON, parse_hhmm("12:00"))) == ()


def test_a_clerk_covers_one_point_on_mondays_and_wednesdays_and_another_the_other_days() -> None:
    week = (Assignment(1, "r1", "a", 0, 1440, frozenset({MON, WED})),
            Assignment(2, "r1", "b", 0, 1440, frozenset({2, 4, 5, 6, 7})))
    assert served_points(week, "r1", (MON, 600)) == ("a",) and served_points(week, "r1", (WED, 600)) == ("a",)
    assert served_points(week, "r1", (THU, 600)) == ("b",)
    assert serving_windows(week, "a", (THU, 600)) == ()


def test_the_local_moment_is_the_centers_weekday_and_minute() -> None:
    # Sunday 23:30 UTC is Monday 07:30 in Shanghai
    at = datetime(2026, 11, 29, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert local_moment(int(at.timestamp() * 1000), "Asia/Shanghai") == (MON, 7 * 60 + 30)


@pytest.mark.parametrize("days", [[0], [8], ["1"], [1.0], "1-5", {"mon": 1}])
def test_weekdays_are_iso_numbers(days: object) -> None:
    with pytest.raises(ValueError):
        weekdays_of(days)
    assert weekdays_of(None) == weekdays_of([]) == frozenset(range(1, 8)) and weekdays_of([3, 3]) == frozenset({3})


@pytest.mark.parametrize("text", ["8:30", "24:01", "12:60", "ab:cd", "", "24:00"])
def test_times_of_day_are_hh_mm_within_the_day(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(text)


def test_a_point_id_splits_back_into_center_and_code() -> None:
    assert split_point_id(point_id("jingansi", "sp_1")) == ("jingansi", "sp_1")
