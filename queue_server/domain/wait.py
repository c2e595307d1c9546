"""Estimated wait: people ahead times the live handling time, shared by the windows open for that line."""
from __future__ import annotations


def estimate_wait_s(ahead: int, avg_handling_s: float, open_windows: int) -> int:
    """Seconds until this ticket is likely called. With no window open the estimate assumes one
    will open (a resident still wants a figure), rather than reporting infinity."""
    windows = max(1, open_windows)
    return int(round(ahead * avg_handling_s / windows))
