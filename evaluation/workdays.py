"""Working-day deadlines: Monday to Friday, less configured public holidays, plus configured
weekend days worked in lieu (调休). Pure rules in the center's local time."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def is_working_day(day: date, holidays: frozenset[date] = frozenset(), makeup: frozenset[date] = frozenset()) -> bool:
    if day in makeup:
        return True
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: datetime, n: int, tz: str, holidays: frozenset[date] = frozenset(),
                     makeup: frozenset[date] = frozenset()) -> datetime:
    """The end (local midnight after) of the n-th working day after the day ``start`` falls on.

    A case opened on Friday with a 1-working-day limit is due at the end of Monday; one opened on a
    Saturday counts Monday as its first working day too."""
    day = start.astimezone(ZoneInfo(tz)).date()
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if is_working_day(day, holidays, makeup):
            counted += 1
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz))
