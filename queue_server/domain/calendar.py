"""The opening calendar: when a center or a service point takes tickets, and which days are working
days. Pure rules in the place's local time.

Which kind a day is comes from the State Council's schedule (the ``chinese-calendar`` library: public
holidays and the weekend days worked in lieu, 调休), overridden by the operator's calendar file for
years the library does not carry yet. A holiday opens with the rest-day hours, an adjusted workday
with the workday hours. The operator's local entries (closures, special hours) win over both."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 400          # next opening is looked for this far ahead; beyond it a place counts as closed


class HoursError(ValueError):
    """Hours that cannot be: ``field`` names the bad part (``weekdays``, ``sat``, ...)."""

    def __init__(self, field_: str, message: str) -> None:
        super().__init__(f"{field_}: {message}")
        self.field = field_
        self.message = message


Span = tuple[time, time]   # [opens, closes) in local time; closes at time.max means through midnight


def _clock_time(field_: str, raw: Any) -> time:
    if raw == "24:00":
        return time.max
    try:
        hh, mm = str(raw).split(":")
        if len(hh) != 2 or len(mm) != 2:
            raise ValueError
        return time(int(hh), int(mm))
    except ValueError:
        raise HoursError(field_, f"{raw!r} is not a time of day HH:MM") from None


def parse_span(field_: str, raw: Any) -> Span | None:
    """``["08:30", "16:30"]`` → a span; ``None`` → closed. Hours that end before they begin are refused."""
    if raw is None:
        return None
    if not isinstance(raw, (list, tuple)) or len(raw) != 2:
        raise HoursError(field_, 'expected ["HH:MM", "HH:MM"] (opens, closes) or null for closed')
    opens, closes = _clock_time(field_, raw[0]), _clock_time(field_, raw[1])
    if opens == time.max:
        raise HoursError(field_, "cannot open at 24:00")
    if closes <= opens:
        raise HoursError(field_, f"closes at {raw[1]} before it opens at {raw[0]}")
    return opens, closes


def _span_text(span: Span | None) -> list[str] | None:
    if span is None:
        return None
    return [span[0].strftime("%H:%M"), "24:00" if span[1] == time.max else span[1].strftime("%H:%M")]


@dataclass(frozen=True)
class Hours:
    """A place's weekly hours. ``weekdays`` serve working days (an adjusted Saturday too),
    ``rest_days`` weekends and public holidays; ``by_weekday`` overrides an ordinary day of that
    weekday. ``always_open``: a 24-hour self-service point. ``configured`` False: no hours were set,
    so nothing is enforced (a catalog imported without hours keeps issuing)."""
    weekdays: Span | None = None
    rest_days: Span | None = None
    by_weekday: dict[int, Span | None] = field(default_factory=dict)
    always_open: bool = False
    configured: bool = True

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> "Hours":
        """The stored JSON shape: ``{"weekdays": [..], "weekends_holidays": [..], "sat": [..] | null,
        "always_open": true}``. Unknown keys are refused, so a typo never silently closes a place."""
        if not raw:
            return cls(always_open=True, configured=False)
        if not isinstance(raw, dict):
            raise HoursError("hours", "expected an object")
        unknown = set(raw) - {"weekdays", "weekends_holidays", "always_open", *WEEKDAYS}
        if unknown:
            raise HoursError(sorted(unknown)[0], "unknown key; use weekdays, weekends_holidays, mon..sun, always_open")
        always = raw.get("always_open", False)
        if not isinstance(always, bool):
            raise HoursError("always_open", "expected true or false")
        return cls(
            weekdays=parse_span("weekdays", raw.get("weekdays")),
            rest_days=parse_span("weekends_holidays", raw.get("weekends_holidays")),
            by_weekday={i: parse_span(name, raw[name]) for i, name in enumerate(WEEKDAYS) if name in raw},
            always_open=always,
        )

    def to_json(self) -> dict[str, Any]:
        if not self.configured:
            return {}
        out: dict[str, Any] = {"weekdays": _span_text(self.weekdays), "weekends_holidays": _span_text(self.rest_days)}
        out.update({WEEKDAYS[i]: _span_text(s) for i, s in sorted(self.by_weekday.items())})
        if self.always_open:
            out["always_open"] = True
        return out


@dataclass(frozen=True)
class LocalEntry:
    """One line of the operator's calendar file: a closure (``span`` None) or special hours for the
    days ``first``..``last``. ``center`` None: every center; ``point`` None: the center's hall and
    its points, but a 24-hour point only closes when an entry names it."""
    first: date
    last: date
    span: Span | None = None
    center: str | None = None
    point: str | None = None
    reason: str = ""

    def covers(self, day: date, center: str, point: str | None, always_open: bool) -> bool:
        if not self.first <= day <= self.last or self.center not in (None, center):
            return False
        if self.point is not None:
            return self.point == point
        return point is None or not always_open


@dataclass(frozen=True)
class DayKind:
    working: bool
    holiday: str | None = None    # the public holiday's name when it is one
    adjusted: bool = False        # a weekend day worked in lieu (调休)


@dataclass(frozen=True)
class Opening:
    """The answer to "may a resident take a ticket now": open until ``closes`` (the end of today's
    hours), or closed until ``next_opening`` (None: not within a year)."""
    open: bool
    next_opening: datetime | None = None
    reason: str = ""
    closes: datetime | None = None


KINDS_KEPT = 4096   # days whose kind a calendar keeps worked out: years of them


@dataclass
class Calendar:
    """Hours of every center and point, the operator's entries and official days, and the rules on
    them. ``points`` holds only points with their own hours; the others keep their center's."""
    centers: dict[str, Hours] = field(default_factory=dict)
    points: dict[tuple[str, str], Hours] = field(default_factory=dict)
    entries: list[LocalEntry] = field(default_factory=list)
    official: dict[date, bool] = field(default_factory=dict)   # day -> working, from the calendar file
    timezones: dict[str, str] = field(default_factory=dict)
    # day -> its kind, as worked out: a bad rating's deadlines walk up to 15 working days ahead, each
    # day a call into the holiday library, on the request's path (1 % of an API process at the city)
    _kinds: dict[date, DayKind] = field(default_factory=dict, repr=False, compare=False)
    # place -> its opening, from when and until when that answer holds (``opening``)
    _openings: dict[tuple[str, str | None], tuple[Opening, datetime, datetime]] = field(
        default_factory=dict, repr=False, compare=False)
    generation: int = field(default=0, compare=False)   # how many fresh ones it took: what its holders' own keeping goes by

    def take(self, fresh: "Calendar") -> None:
        """Become ``fresh`` in place (a reload), so whoever holds this calendar sees the new one."""
        self.centers, self.points, self.entries = fresh.centers, fresh.points, fresh.entries
        self.official, self.timezones = fresh.official, fresh.timezones
        self._kinds, self._openings = {}, {}
        self.generation += 1

    def day_kind(self, day: date) -> DayKind:
        """The file's official days first (years the library lacks, or a late change), then the
        library, then plain Monday to Friday."""
        kind = self._kinds.get(day)
        if kind is None:
            if len(self._kinds) >= KINDS_KEPT:   # any day may be asked about (the calendar's pages)
                self._kinds.clear()
            kind = self._kinds[day] = self._day_kind(day)
        return kind

    def _day_kind(self, day: date) -> DayKind:
        if day in self.official:
            working = self.official[day]
            return DayKind(working, None if working else "holiday", working and day.weekday() >= 5)
        try:
            resting, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:   # a year the library does not carry yet
            return DayKind(day.weekday() < 5)
        if not resting:
            return DayKind(True, adjusted=day.weekday() >= 5)
        return DayKind(False, holiday=name if day in chinese_calendar.holidays else None)

    def is_working_day(self, day: date) -> bool:
        return self.day_kind(day).working

    def hours_of(self, center: str, point: str | None = None) -> Hours:
        if point is not None and (center, point) in self.points:
            return self.points[(center, point)]
        return self.centers.get(center, Hours.parse(None))

    def span_on(self, day: date, center: str, point: str | None = None) -> tuple[Span | None, str]:
        """The hours of one local day and why (a local entry's reason, a holiday's name)."""
        hours = self.hours_of(center, point)
        if not hours.configured:
            return (time.min, time.max), ""
        for entry in reversed(self.entries):   # a later line of the file wins over an earlier one
            if entry.covers(day, center, point, hours.always_open):
                return entry.span, entry.reason
        if hours.always_open:
            return (time.min, time.max), ""
        kind = self.day_kind(day)
        if kind.working and (kind.adjusted or day.weekday() not in hours.by_weekday):
            return hours.weekdays, "adjusted workday" if kind.adjusted else ""
        if not kind.working and (kind.holiday or day.weekday() not in hours.by_weekday):
            return hours.rest_days, kind.holiday or ""
        return hours.by_weekday[day.weekday()], ""

    def opening(self, center: str, at: datetime, point: str | None = None) -> Opening:
        """Open at ``at``? If not, the first moment it opens after ``at`` (None: not within a year).
        The answer is kept until it changes — the place closes, or opens, or (closed) the local day
        ends with its reason — and given again to anyone asking in between: every resident's ticket
        asks, and the map and the whole-city recommendation ask for every place at once."""
        kept = self._openings.get((center, point))
        if kept is not None and kept[1] <= at < kept[2]:
            return kept[0]
        tz = ZoneInfo(self.timezones.get(center, "Asia/Shanghai"))
        local = at.astimezone(tz)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
        answer, until = Opening(False), midnight
        for offset in range(SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            span, why = self.span_on(day, center, point)
            if offset == 0:
                answer = Opening(False, None, why)
            if span is None:
                continue
            opens = datetime.combine(day, span[0], tzinfo=tz)
            closes = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz) if span[1] == time.max \
                else datetime.combine(day, span[1], tzinfo=tz)
            if opens <= local < closes:
                answer, until = Opening(True, closes=closes), closes
                break
            if local < opens:
                answer, until = Opening(False, opens, answer.reason), min(opens, midnight)
                break
        self._openings[(center, point)] = (answer, at, until)
        return answer

    def add_working_days(self, start: datetime, n: int, tz: str) -> datetime:
        """The end (local midnight after) of the n-th working day after the day ``start`` falls on.

        A case opened on Friday with a 1-working-day limit is due at the end of Monday; one opened on
        a Saturday counts Monday as its first working day too; a holiday week is skipped whole."""
        zone = ZoneInfo(tz)
        day = start.astimezone(zone).date()
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def opening_text(at: datetime) -> str:
    """How a person reads the next opening: Shanghai time, Chinese first with English beside it."""
    local = at.astimezone(ZoneInfo("Asia/Shanghai"))
    zh = f"{local.month}月{local.day}日 周{'一二三四五六日'[local.weekday()]} {local:%H:%M}"
    return f"{zh} / {local:%a} {local.day} {local:%b} {local:%H:%M}"
