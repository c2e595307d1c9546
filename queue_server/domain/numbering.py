"""Ticket numbers: a letter prefix plus a daily sequence that restarts at the center's local midnight."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo


def service_day(now_ms: int, tz: str = "Asia/Shanghai") -> str:
    """The local calendar day (YYYYMMDD) a moment belongs to: Shanghai's midnight, not UTC's."""
    local = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).astimezone(ZoneInfo(tz))
    return local.strftime("%Y%m%d")


def format_number(prefix: str, seq: int) -> str:
    """A012; past 999 the number simply grows (A1000) rather than wrapping into a repeat."""
    return f"{prefix}{seq:03d}"


def ticket_id(center: str, day: str, number: str) -> str:
    return f"{center}-{day}-{number}"


def center_of(ticket_id_: str) -> str:
    """The center a ticket id belongs to (ids are center-day-number; center codes hold no '-')."""
    return ticket_id_.split("-", 1)[0]
