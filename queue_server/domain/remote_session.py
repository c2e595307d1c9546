"""The video session between a remote window and the resident at a service point: who may join it.
A session belongs to one window while one point's ticket is at it; what takes the ticket away from
the window, or the clerk away from it, ends the session in the same script (transition.lua,
window_state.lua)."""
from __future__ import annotations

ROLES = ("window", "point")          # the clerk's console, and the point's resident-facing page


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
