"""The neighborhood service network's rules: a service point's status and its legal changes, the
time ranges (on chosen days of the week) in which a remote window serves a point, and which windows
serve a point now.
Pure: no I/O, so the API, the engine and the tests share one reading of them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

KINDS = {
    "neighborhood_committee": ("居委会", "Neighborhood committee"),
    "neighborhood_hub": ("邻里汇", "Neighborhood Hub"),
    "office_building": ("楼宇", "Office building"),
    "park": ("公园", "Park"),
    "party_mass_center": ("党群服务站", "Party-mass service station"),
}
STATUSES = ("planned", "active", "suspended", "closed")

# planned → active → suspended ⇄ active, and any but closed → closed (a plan may be dropped); closed is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "planned": frozenset({"active", "closed"}),
    "active": frozenset({"suspended", "closed"}),
    "suspended": frozenset({"active", "closed"}),
    "closed": frozenset(),
}
DAY_MINUTES = 24 * 60
EVERY_DAY = frozenset(range(1, 8))   # ISO weekdays, Monday = 1
LocalMoment = tuple[int, int]   # (ISO weekday, minute of the local day)


def may_change(current: str, to: str) -> bool:
    return to in TRANSITIONS.get(current, frozenset())


def point_id(center: str, code: str) -> str:
    """A point's name across the district (its socket path): center codes hold no '-', so the first
    '-' splits it back."""
    return f"{center}-{code}"


def split_point_id(pid: str) -> tuple[str, str]:
    center, _, code = pid.partition("-")
    return center, code


def parse_hhmm(text: str, allow_end_of_day: bool = False) -> int:
    """'08:30' → 510 minutes after local midnight; '24:00' only as an end. ValueError otherwise."""
    hh, sep, mm = text.partition(":")
    if not (sep and len(hh) == 2 and len(mm) == 2 and hh.isdigit() and mm.isdigit()):
        raise ValueError("a time of day as HH:MM")
    minutes = int(hh) * 60 + int(mm)
    if int(mm) >= 60 or minutes > DAY_MINUTES or (minutes == DAY_MINUTES and not allow_end_of_day):
        raise ValueError("a time of day between 00:00 and 24:00")
    return minutes


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Assignment:
    """A remote window serves a point from ``starts`` to ``ends`` (minutes after the center's local
    midnight, end excluded) on ``weekdays`` (ISO, Monday = 1): a clerk covers points A–C in the
    morning and D–F after lunch, or one point on Mondays and Wednesdays and another the other days."""
    id: int
    window: str
    point: str
    starts: int
    ends: int
    weekdays: frozenset[int] = EVERY_DAY

    def covers(self, moment: LocalMoment) -> bool:
        weekday, minute = moment
        return weekday in self.weekdays and self.starts <= minute < self.ends

    def overlaps(self, other: Assignment) -> bool:
        return (self.window == other.window and self.point == other.point and bool(self.weekdays & other.weekdays)
                and self.starts < other.ends and other.starts < self.ends)


def overlapping(new: Assignment, existing: list[Assignment] | tuple[Assignment, ...]) -> Assignment | None:
    """The first existing assignment of the same window and point whose range meets the new one's on
    a day both serve."""
    return next((a for a in existing if a.id != new.id and new.overlaps(a)), None)


def weekdays_of(days: object) -> frozenset[int]:
    """A list of ISO weekdays as given in a file or a request (absent or empty: every day).
    ValueError for anything else."""
    if days is None or days == []:
        return EVERY_DAY
    if not isinstance(days, list) or not all(type(d) is int and 1 <= d <= 7 for d in days):
        raise ValueError("weekdays as a list of ISO weekdays, Monday = 1 to Sunday = 7")
    return frozenset(days)


def local_moment(now_ms: int, tz: str) -> LocalMoment:
    local = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).astimezone(ZoneInfo(tz))
    return local.isoweekday(), local.hour * 60 + local.minute


def serving_windows(assignments: tuple[Assignment, ...], point: str, moment: LocalMoment) -> tuple[str, ...]:
    """The windows assigned to ``point`` at this local moment, each once, in order."""
    return tuple(dict.fromkeys(a.window for a in assignments if a.point == point and a.covers(moment)))


def served_points(assignments: tuple[Assignment, ...], window: str, moment: LocalMoment) -> tuple[str, ...]:
    """The points ``window`` serves at this local moment, each once, in order."""
    return tuple(dict.fromkeys(a.point for a in assignments if a.window == window and a.covers(moment)))
