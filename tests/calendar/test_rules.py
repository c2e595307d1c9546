"""The calendar's pure rules on the State Council's 2026 schedule (chinese-calendar): Shanghai's
hours, a public holiday with the rest-day hours, an adjusted workday (调休) with the workday hours,
the operator's entries, 24-hour points, working days, and the calendar file's mistakes named."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from queue_server.domain.calendar import KINDS_KEPT, Calendar, Hours, HoursError, LocalEntry, opening_text, parse_span
from queue_server.record.calendar import parse_calendar_file

SH = ZoneInfo("Asia/Shanghai")
C = "jingansi"
SHANGHAI = Hours.parse({"weekdays": ["08:30", "16:30"], "weekends_holidays": ["08:30", "11:30"]})


def at(m: int, d: int, hh: int, mm: int = 0, y: int = 2026) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def calendar(**kw) -> Calendar:  # type: ignore[no-untyped-def]
    return Calendar(centers={C: SHANGHAI}, **kw)


def test_a_working_day_opens_through_lunch_and_the_evening_waits_for_the_morning() -> None:
    cal = calendar()
    assert cal.opening(C, at(12, 1, 12, 15)).open                    # Tuesday lunchtime
    assert cal.opening(C, at(12, 1, 12, 15)).closes == at(12, 1, 16, 30)
    late = cal.opening(C, at(12, 1, 21, 58))                          # the 21:58 ticket
    assert (late.open, late.next_opening) == (False, at(12, 2, 8, 30))
    assert cal.opening(C, at(12, 2, 8, 29)).next_opening == at(12, 2, 8, 30)
    assert not cal.opening(C, at(12, 1, 16, 30)).open                 # closing time is closed
    assert opening_text(at(12, 2, 8, 30)) == "12月2日 周三 08:30 / Wed 2 Dec 08:30"


def test_weekends_open_the_morning_only() -> None:
    cal = calendar()
    assert cal.opening(C, at(12, 5, 10)).open                         # Saturday
    assert cal.opening(C, at(12, 5, 15)).next_opening == at(12, 6, 8, 30)


def test_a_holiday_uses_the_holiday_hours() -> None:
    """National Day 2026 is Oct 1-7 in the library; Monday Oct 5 opens 8:30-11:30, not 16:30."""
    cal = calendar()
    assert cal.day_kind(date(2026, 10, 5)).holiday == "National Day"
    assert cal.opening(C, at(10, 5, 10)).open
    monday_afternoon = cal.opening(C, at(10, 5, 14))
    assert (monday_afternoon.open, monday_afternoon.next_opening, monday_afternoon.reason) == (
        False, at(10, 6, 8, 30), "National Day")


def test_an_adjusted_workday_opens_with_the_workday_hours() -> None:
    """Saturday 2026-10-10 is worked in lieu of National Day: open at 15:00 like a Friday."""
    cal = calendar()
    kind = cal.day_kind(date(2026, 10, 10))
    assert (kind.working, kind.adjusted) == (True, True)
    assert cal.opening(C, at(10, 10, 15)).open
    assert cal.opening(C, at(10, 10, 15)).closes == at(10, 10, 16, 30)
    assert not cal.opening(C, at(10, 17, 15)).open                    # an ordinary Saturday is not


def test_a_weekday_of_its_own_applies_to_ordinary_days_only() -> None:
    cal = Calendar(centers={C: Hours.parse({"weekdays": ["08:30", "16:30"], "weekends_holidays": ["08:30", "11:30"],
                                            "sat": None, "wed": ["13:00", "16:30"]})})
    assert not cal.opening(C, at(12, 5, 10)).open                     # Saturdays closed...
    assert cal.opening(C, at(10, 10, 10)).open                        # ...but an adjusted one works
    assert cal.opening(C, at(12, 2, 10)).next_opening == at(12, 2, 13)


def test_local_closures_special_hours_and_24_hour_points() -> None:
    cal = calendar(
        points={(C, "self24"): Hours.parse({"always_open": True})},
        entries=[LocalEntry(date(2026, 12, 3), date(2026, 12, 4), None, C, None, "设备检修 maintenance"),
                 LocalEntry(date(2026, 12, 4), date(2026, 12, 4), parse_span("hours", ["13:00", "15:00"]), C),
                 LocalEntry(date(2026, 12, 7), date(2026, 12, 7), None, None, "self24", "power cut")])
    closed = cal.opening(C, at(12, 3, 10))
    assert (closed.open, closed.reason, closed.next_opening) == (False, "设备检修 maintenance", at(12, 4, 13))
    assert cal.opening(C, at(12, 4, 14)).open                          # the later line wins
    assert cal.opening(C, at(12, 3, 10), point="sp1").reason == "设备检修 maintenance"   # its points close too
    assert cal.opening(C, at(12, 3, 3), point="self24").open           # but not a 24-hour point
    assert cal.opening(C, at(12, 1, 3), point="self24").open
    assert not cal.opening(C, at(12, 1, 3)).open
    assert cal.opening(C, at(12, 7, 3), point="self24").next_opening == at(12, 8, 0)   # named: closed


def test_no_hours_set_enforces_nothing_and_closed_for_good_has_no_next_opening() -> None:
    assert Calendar().opening("elsewhere", at(12, 1, 3)).open
    shut = Calendar(centers={C: Hours.parse({"weekdays": None, "weekends_holidays": None})}).opening(C, at(12, 1, 10))
    assert (shut.open, shut.next_opening) == (False, None)


def test_working_days_follow_the_official_schedule_and_the_file_beyond_it() -> None:
    cal = calendar()
    # Opened Wed 30 Sep: Oct 1-7 are National Day, Thursday 8th is the first working day.
    assert cal.add_working_days(at(9, 30, 15), 1, "Asia/Shanghai") == at(10, 9, 0)
    # Fri 9 Oct: Saturday 10th is worked in lieu, so it is the first working day.
    assert cal.add_working_days(at(10, 9, 15), 1, "Asia/Shanghai") == at(10, 11, 0)
    # 2027 is beyond the library: plain Monday-Friday, unless the file says New Year's Day is off.
    assert cal.add_working_days(at(12, 31, 15), 1, "Asia/Shanghai") == at(1, 2, 0, y=2027)
    with_file = calendar(official={date(2027, 1, 1): False})
    assert with_file.add_working_days(at(12, 31, 15), 1, "Asia/Shanghai") == at(1, 5, 0, y=2027)


def test_an_opening_is_kept_until_it_changes_and_a_reload_drops_it() -> None:
    cal = calendar()
    worked = []
    span_on = cal.span_on

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        worked.append(args)
        return span_on(*args, **kwargs)

    cal.span_on = counted  # type: ignore[method-assign]
    noon = cal.opening(C, at(12, 1, 12))                               # Tuesday: open until 16:30
    assert cal.opening(C, at(12, 1, 16, 29)) is noon and len(worked) == 1
    evening = cal.opening(C, at(12, 1, 16, 30))                        # closed: worked out again
    assert not evening.open and evening.next_opening == at(12, 2, 8, 30)
    asked = len(worked)
    assert cal.opening(C, at(12, 1, 23, 59)) is evening and len(worked) == asked
    night = cal.opening(C, at(12, 2, 0, 0))                           # a new local day: its own reason, worked out again
    assert night == evening and night is not evening
    assert cal.opening(C, at(12, 2, 8, 29)) is night
    assert cal.opening(C, at(12, 2, 8, 30)).open
    assert cal.opening(C, at(12, 1, 12)) is not noon and cal.opening(C, at(12, 1, 12)).open   # back in time: asked again
    saturday = cal.opening(C, at(12, 5, 12))                           # after the weekend morning
    assert not saturday.open and saturday.next_opening == at(12, 6, 8, 30)

    cal.take(Calendar(centers={C: Hours.parse({"weekdays": ["08:30", "20:00"], "weekends_holidays": None})}))
    late = cal.opening(C, at(12, 1, 18))
    assert late.open and late.closes == at(12, 1, 20)


def test_day_kinds_kept_worked_out_follow_a_reload_and_stay_few() -> None:
    cal = calendar()
    new_year = date(2027, 1, 1)
    assert cal.is_working_day(new_year)                       # beyond the library: a Friday works
    cal.take(calendar(official={new_year: False}))            # the file, reloaded, says it is off
    assert not cal.is_working_day(new_year)
    for n in range(KINDS_KEPT + 10):                          # asked about any number of days
        cal.day_kind(date.fromordinal(date(2026, 1, 1).toordinal() + n))
    assert len(cal._kinds) <= KINDS_KEPT
    assert not cal.is_working_day(new_year)


@pytest.mark.parametrize("raw, field", [
    ({"weekdays": ["16:30", "08:30"]}, "weekdays"),
    ({"weekends_holidays": ["08:30", "08:30"]}, "weekends_holidays"),
    ({"sat": ["8:30", "11:30"]}, "sat"),
    ({"weekdays": ["08:30"]}, "weekdays"),
    ({"weekday": ["08:30", "16:30"]}, "weekday"),
    ({"always_open": "yes"}, "always_open"),
])
def test_hours_that_cannot_be_name_their_field(raw: dict, field: str) -> None:
    with pytest.raises(HoursError) as err:
        Hours.parse(raw)
    assert err.value.field == field


def test_the_calendar_file() -> None:
    cal = parse_calendar_file('''
[official]
holidays = ["2027-01-01"]
workdays = [2027-02-07]

[[closed]]
center = "jingansi"
from = "2026-12-24"
to = "2026-12-25"
reason = "装修 renovation"

[[closed]]
from = 2026-12-31
hours = ["08:30", "11:30"]

[[hours]]
center = "jingansi"
point = "self24"
always_open = true
''')
    assert cal.official == {date(2027, 1, 1): False, date(2027, 2, 7): True}
    assert [(e.center, e.first, e.last, e.span is None) for e in cal.entries] == [
        ("jingansi", date(2026, 12, 24), date(2026, 12, 25), True), (None, date(2026, 12, 31), date(2026, 12, 31), False)]
    assert cal.hours[0][:2] == ("jingansi", "self24") and cal.hours[0][2].always_open
    for text, field in (('[[closed]]\nfrom = "2026-12-24"\nto = "2026-12-01"', "closed[1].to"),
                        ('[[closed]]\nfrom = "2026-12-24"\nhours = ["12:00", "09:00"]', "closed[1].hours"),
                        ('[[hours]]\ncenter = "x"\nweekdays = ["17:00", "09:00"]', "hours[1].weekdays"),
                        ('[holiday]\n', "holiday"), ("[[closed]\n", "file")):
        with pytest.raises(HoursError) as err:
            parse_calendar_file(text)
        assert err.value.field == field
