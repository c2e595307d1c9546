"""Appointments: a slot of a line with a capacity, a booking held by a verified number, and when a
booking may be checked in (turned into an appointment ticket the call policy puts before walk-ins
once its slot has begun) or is released for not coming."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from .calendar import Opening

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I: typed at a kiosk from a phone's screen
CODE_LENGTH = 8                                      # 32^8 ≈ 10^12: not guessed under the rate limit


class Booking(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    CHECKED_IN = "checked_in"
    RELEASED = "released"


LIVE = frozenset({Booking.BOOKED, Booking.CHECKED_IN})     # what holds a place (and the number's one per slot)


class CheckIn(StrEnum):
    EARLY = "early"       # before the check-in window opens
    OPEN = "open"
    LATE = "late"         # past the grace period: released (or about to be)


def booking_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normal_code(text: str) -> str:
    """A code as typed or scanned: case, spaces and dashes do not matter."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def check_in_window(now: datetime, starts_at: datetime, early_s: int, grace_s: int) -> CheckIn:
    """A booking may be checked in from ``early_s`` before its slot begins until ``grace_s`` after."""
    if now < starts_at - timedelta(seconds=early_s):
        return CheckIn.EARLY
    if now >= starts_at + timedelta(seconds=grace_s):
        return CheckIn.LATE
    return CheckIn.OPEN


def slot_problem(starts_at: datetime, ends_at: datetime, opening: Opening, now: datetime) -> str | None:
    """Why a slot may not be opened (None: it may): it must end after it starts, lie in the future
    and within the place's hours of that day (``opening`` is the calendar's answer at ``starts_at``)."""
    if ends_at <= starts_at:
        return "ends_at must be after starts_at"
    if starts_at <= now:
        return "the slot must begin in the future"
    if not opening.open:
        return "the center is closed when the slot begins"
    if opening.closes is not None and ends_at > opening.closes:
        return f"the slot ends after the center closes that day ({opening.closes.isoformat()})"
    return None
