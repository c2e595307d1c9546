"""Residents from anywhere (residents/): the one-time code that verifies a number, and which tickets
must be checked in when called. Pure rules."""
from __future__ import annotations

import hashlib
import re

from .tickets import Channel

CODE_DIGITS = 6
CODE = re.compile(rf"^\d{{{CODE_DIGITS}}}$")


def code_digest(number_key: str, code: str) -> str:
    """What Redis keeps of a code: bound to the number it was sent to, so it checks for no other."""
    return hashlib.sha256(f"{number_key}:{code}".encode()).hexdigest()


def needs_check_in(ticket: dict) -> bool:
    """A remote ticket called before its resident checked in (at the kiosk or with the clerk): the
    resident may still be on the way, so it lapses to a no-show only after the grace period."""
    return ticket.get("channel") == Channel.REMOTE and not ticket.get("present_at")
