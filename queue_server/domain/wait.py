"""Estimated wait: people ahead times the live handling time, shared by the windows open for that line."""
from __future__ import annotations

AHEAD_MIN_S = 60              # the pages say "any moment" (即将轮到) under half a minute: never with anyone ahead
TYPICAL_FLOOR_SHARE = 0.5     # the live average is never taken below this share of the catalog's typical time


def estimate_wait_s(ahead: int, avg_handling_s: float, open_windows: int, typical_handling_s: float = 0.0) -> int:
    """Seconds until this ticket is likely called. With no window open the estimate assumes one
    will open (a resident still wants a figure), rather than reporting infinity.

    The live average is a moving average of the day's handling times; a run of quick finishes (a
    clerk closing tickets at once) pulls it towards zero and would tell a resident with three people
    ahead that it is their turn any moment. So each person ahead counts at least half the catalog's
    typical time for the matter, and anyone ahead means at least a minute."""
    if ahead <= 0:
        return 0
    per_person = max(avg_handling_s, typical_handling_s * TYPICAL_FLOOR_SHARE)
    return max(AHEAD_MIN_S, int(round(ahead * per_person / max(1, open_windows))))
