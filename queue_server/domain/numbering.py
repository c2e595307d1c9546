"""Ticket numbers: a letter prefix plus a daily sequence that restarts at the center's local midnight."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

_day_span: dict[str, tuple[int, int, str]] = {}


def service_day(now_ms: int, tz: str = "Asia/Shanghai") -> str:
    """The local calendar day (YYYYMMDD) a moment belongs to: Shanghai's midnight, not UTC's.
    Called on every issue, so the current day's [start, end) span is remembered per timezone."""
    span = _day_span.get(tz)
    if span is not None and span[0] <= now_ms < span[1]:
        return span[2]
    local = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).astimezone(ZoneInfo(tz))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    following = (midnight + timedelta(days=1, hours=3)).replace(hour=0)  # DST-safe next local midnight
    day = local.strftime("%Y%m%d")
    _day_span[tz] = (int(midnight.timestamp() * 1000), int(following.timestamp() * 1000), day)
    return day


def format_number(prefix: str, seq: int) -> str:
    """A012; past 999 the number simply grows (A1000) rather than wrapping into a repeat."""
    return f"{prefix}{seq:03d}"


def ticket_id(center: str, day: str, number: str) -> str:
    return f"{center}-{day}-{number}"


def center_of(ticket_id_: str) -> str:
    """The center a ticket id belongs to (ids are center-day-number; center codes hold no '-')."""
    return ticket_id_.split("-", 1)[0]


def day_of(ticket_id_: str) -> date | None:
    """The service day a ticket id names (center-YYYYMMDD-number), None when it names none: the record
    is partitioned by that day, so a look-up by id gives it too and reads one month, not all."""
    parts = ticket_id_.split("-")
    if len(parts) != 3 or len(parts[1]) != 8 or not parts[1].isascii() or not parts[1].isdigit():
        return None
    try:
        return date(int(parts[1][:4]), int(parts[1][4:6]), int(parts[1][6:]))
    except ValueError:
        return None
