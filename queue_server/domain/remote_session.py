"""The video session between a remote window and the resident at a service point: which events of
the center's stream end it, and why. A session belongs to one window while one point's ticket is at
it, so anything that takes the ticket away from the window, or the clerk away from the window, ends it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .tickets import AT_WINDOW

ROLES = ("window", "point")          # the clerk's console, and the point's resident-facing page

WINDOW_ENDS = {"window.paused": "window_paused", "window.closed": "window_closed"}


def side_of(role: str, token_center: str | None, token_window: str | None, token_point: str | None,
            center: str, window: str, point: str) -> str | None:
    """Who may join the session of a point's ticket at a remote window, and as which side: the clerk
    of that window (a staff token bound to it) as ``window``, a device bound to the ticket's point as
    ``point``; nobody else (managers, assistants, other windows and points, the hall's devices)."""
    if token_center != center:
        return None
    if role == "staff" and token_window == window and token_point is None:
        return "window"
    if role == "device" and token_point == point:
        return "point"
    return None


@dataclass(frozen=True)
class SessionEnd:
    window: str
    ticket: str | None     # None: whatever ticket the window's session is for
    reason: str
    at: int | None = None  # the ending event's time (ms): a session opened after it is not the one it ends


def session_end(event: dict[str, Any]) -> SessionEnd | None:
    """What an event of the center's stream ends: a ticket of a service point that is no longer called
    or served at the window it was at (finished, no-show, transferred, paused, cancelled), or a window
    that paused or closed. None when it ends nothing."""
    kind = str(event.get("type", ""))
    window = event.get("window")
    window_id = window.get("id") if isinstance(window, dict) else None
    if not isinstance(window_id, str) or not window_id:
        return None
    at = event.get("at") if type(event.get("at")) is int else None
    if kind in WINDOW_ENDS:
        return SessionEnd(window_id, None, WINDOW_ENDS[kind], at)
    ticket = event.get("ticket")
    if not kind.startswith("ticket.") or not isinstance(ticket, dict) or not ticket.get("service_point"):
        return None
    if ticket.get("status") in AT_WINDOW and ticket.get("window") == window_id:
        return None
    return SessionEnd(window_id, str(ticket.get("id")), kind.removeprefix("ticket."), at)
