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


NUMBER = re.compile(r"^[A-Z]{1,4}\d{1,6}$")
TICKET_ID = re.compile(r"^([a-z0-9_]{1,64})-(\d{8})-([A-Z]{1,4}\d{1,6})$")


def ticket_to_check_in(center: str, day: str, given: str) -> str | None:
    """The ticket a check-in names at ``center`` on ``day``: its number as printed (``a5`` and
    ``A005`` alike), its id, or its status link as the kiosk's scanner reads it off the QR; None if
    it names no ticket of this center today."""
    text = given.strip().split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    found = TICKET_ID.match(text)
    if found:
        return text if found.group(1) == center and found.group(2) == day else None
    number = text.upper()
    if not NUMBER.match(number):
        return None
    prefix = number.rstrip("0123456789")
    return f"{center}-{day}-{prefix}{int(number[len(prefix):]):03d}"
