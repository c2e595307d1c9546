"""Ticket life cycle: the states, who may move a ticket where, and what a ticket looks like."""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    PAUSED = "paused"
    FINISHED = "finished"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class Channel(StrEnum):
    KIOSK = "kiosk"
    SERVICE_POINT = "service_point"
    APP = "app"
    APPOINTMENT = "appointment"
    STAFF = "staff"
    REMOTE = "remote"   # taken from home on the resident's phone, the number verified by SMS (residents/)


class Priority(StrEnum):
    NORMAL = "normal"
    PRIORITY = "priority"
    APPOINTMENT = "appointment"


FINAL = frozenset({Status.FINISHED, Status.NO_SHOW, Status.CANCELLED})
AT_WINDOW = frozenset({Status.CALLED, Status.SERVING})

# action -> (states it may start from, state it leads to). Recall and call-next have their own
# scripts; every other action is this table handed to the one transition script.
TRANSITIONS: dict[str, tuple[frozenset[Status], Status]] = {
    "start": (frozenset({Status.CALLED}), Status.SERVING),
    "finish": (frozenset({Status.SERVING}), Status.FINISHED),
    "no-show": (frozenset({Status.CALLED}), Status.NO_SHOW),
    "pause": (frozenset({Status.CALLED, Status.SERVING}), Status.PAUSED),
    "resume": (frozenset({Status.PAUSED}), Status.WAITING),
    "cancel": (frozenset({Status.WAITING, Status.PAUSED}), Status.CANCELLED),
    "transfer": (frozenset({Status.WAITING, Status.CALLED, Status.SERVING, Status.PAUSED}), Status.WAITING),
}

EVENT_OF_ACTION: dict[str, str] = {
    "start": "ticket.started",
    "finish": "ticket.finished",
    "no-show": "ticket.no_show",
    "pause": "ticket.paused",
    "resume": "ticket.resumed",
    "cancel": "ticket.cancelled",
    "transfer": "ticket.transferred",
}


def wait_class(priority: Priority | str) -> str:
    """The waiting line a ticket stands in: p(riority), a(ppointment) or n(ormal)."""
    return {"priority": "p", "appointment": "a"}.get(str(priority), "n")


def mask_phone(phone: str | None) -> str | None:
    """138****5678: enough for a resident to recognise their number, never the whole of it."""
    if not phone:
        return None
    digits = phone[-11:] if len(phone) >= 11 else phone
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


PRIVATE_FIELDS = frozenset({"phone", "status_token"})


def public_ticket(t: dict) -> dict:
    """A ticket as it may leave the server: the phone masked, never whole; the digest of its status
    token (residents/) not at all."""
    return _made_public(dict(t))


def _made_public(t: dict) -> dict:
    """``public_ticket`` on ``t`` itself, which the caller owns."""
    phone = t.pop("phone", None)
    for name in PRIVATE_FIELDS:
        t.pop(name, None)
    if phone:
        t["phone_masked"] = mask_phone(phone)
    return t


def public_event(event: dict) -> bool:
    """An engine event as screens and clients see it, made so IN PLACE: the caller owns ``event``, just
    parsed. Every process reading a stream does this for every event, and copying the event and its
    ticket cost more than parsing them. True when it already was (nothing private in it): the event
    as written may then go out as it was written."""
    ticket = event.get("ticket")
    if isinstance(ticket, dict) and not PRIVATE_FIELDS.isdisjoint(ticket):
        _made_public(ticket)
        return False
    return True
