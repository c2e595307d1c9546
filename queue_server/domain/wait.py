"""Estimated wait. Two figures live here:

- ``estimate_wait_s``: the coarse one (people ahead × the line's moving average ÷ open windows), kept
  for the network map's whole-center figure and as the baseline the backtest (loadtests/wait_backtest.py)
  measures the other against;
- ``Outlook.wait_s``: what a resident is told. It takes the handling time per queue and matter as the
  median of the recent finishes (``SAMPLES_KEPT``; ``RecentHandling``) shrunk towards the catalog's
  typical time while samples are few, weighs it by the matters of the people actually ahead, counts
  the calls the policy's slot cycle makes before the ticket (domain/policy.py: a normal ticket also
  waits for the priority calls interleaved, a priority ticket for the normal slots the cycle keeps),
  shared by the open windows serving the line, plus half a service for the window to come free.
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

AHEAD_MIN_S = 60              # the pages say "any moment" (即将轮到) under half a minute: never with anyone ahead
TYPICAL_FLOOR_SHARE = 0.5     # a live figure is never taken below this share of the catalog's typical time
SAMPLES_KEPT = 25             # recent handling times kept per queue and matter (transition.lua trims to it)
PRIOR_WEIGHT = 4.0            # the catalog's typical time counts as this many finishes
RESIDUAL_SHARE = 0.5          # the window a ticket waits for is, on average, half through its current service
CALLS_CAP = 10_000            # a line longer than this is estimated as if it were this long


def estimate_wait_s(ahead: int, avg_handling_s: float, open_windows: int, typical_handling_s: float = 0.0) -> int:
    """Seconds until this ticket is likely called, by the coarse formula. With no window open the
    estimate assumes one will open (a resident still wants a figure), rather than reporting infinity.

    The live average is a moving average of the day's handling times; a run of quick finishes (a
    clerk closing tickets at once) pulls it towards zero and would tell a resident with three people
    ahead that it is their turn any moment. So each person ahead counts at least half the catalog's
    typical time for the matter, and anyone ahead means at least a minute."""
    if ahead <= 0:
        return 0
    per_person = max(avg_handling_s, typical_handling_s * TYPICAL_FLOOR_SHARE)
    return max(AHEAD_MIN_S, int(round(ahead * per_person / max(1, open_windows))))


@dataclass(frozen=True)
class RecentHandling:
    """A queue's and matter's recent finishes as the estimate takes them: how many, and their median.
    transition.lua keeps it beside the samples at every finish (_lib.lua ``handling_summary``, the same
    median), so a position read takes one value per matter ahead rather than its 25 samples."""
    count: int
    median_s: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> RecentHandling | None:
        return cls(len(samples), statistics.median(samples)) if samples else None

    @classmethod
    def parse(cls, summary: str) -> RecentHandling:
        """The summary as the scripts write it: ``"<count> <median>"``."""
        count, median = summary.split()
        return cls(int(count), float(median))


def handling_s(recent: RecentHandling | None, typical_s: float) -> float:
    """One matter's handling time in one queue: the median of its recent finishes (a clerk closing a
    few tickets at once, or one long case, moves it little), pulled towards the catalog's typical time
    as if that were PRIOR_WEIGHT finishes more, so two quick finishes in the morning don't rewrite the
    day; never under half the typical time."""
    if recent is None:
        return typical_s
    n = recent.count
    blended = (n * recent.median_s + PRIOR_WEIGHT * typical_s) / (n + PRIOR_WEIGHT)
    return max(blended, typical_s * TYPICAL_FLOOR_SHARE)


def calls_before(cycle: str, cls: str, own_ahead: int, priority_waiting: int, normal_waiting: int) -> int:
    """Calls made before this ticket's, walking the slot cycle from its start as call_next.lua does
    (an empty class's slot is given to the other class and the cycle stays). ``cls`` "p" counts
    ``own_ahead`` priority tickets plus the normal ones (``normal_waiting``) the N slots take
    meanwhile; "n"/"a" count ``own_ahead`` normal-class tickets plus the priority ones
    (``priority_waiting``) the P slots take; "w" (sent to one window) only those ahead at that window."""
    own_ahead = min(own_ahead, CALLS_CAP)
    if cls == "w":
        return own_ahead
    mine = own_ahead
    others = min(normal_waiting if cls == "p" else priority_waiting, CALLS_CAP)
    mine_slot = "P" if cls == "p" else "N"
    pos = calls = 0
    while True:
        want = cycle[pos]
        if want != mine_slot and others:     # the slot's own class is served, the cycle moves on
            others -= 1
            pos = (pos + 1) % len(cycle)
        elif not mine:                       # this ticket is the head of its class and the slot serves it
            return calls
        else:
            mine -= 1
            if want == mine_slot:            # an empty class's slot does not move the cycle
                pos = (pos + 1) % len(cycle)
        calls += 1


@dataclass(frozen=True)
class Outlook:
    """What the estimate needs of a line, read in the same script as the ticket's position
    (_lib.lua's ``line_detail``): the ticket's class and how many of its class are ahead, the
    priority and normal-class tickets waiting, the matters of (up to 30 of) the people ahead, and
    the recent handling of each of those matters in the ticket's queue."""
    cls: str
    own_ahead: int
    priority_waiting: int
    normal_waiting: int
    open_windows: int
    mix: Mapping[str, int] = field(default_factory=dict)
    recent: Mapping[str, RecentHandling] = field(default_factory=dict)

    def per_call_s(self, typical_s: Mapping[str, float], default_s: float) -> float:
        """The mean handling time of the people ahead, each by their own matter."""
        people = sum(self.mix.values())
        if not people:
            return default_s
        return sum(n * handling_s(self.recent.get(m), typical_s.get(m, default_s))
                   for m, n in self.mix.items()) / people

    def wait_s(self, cycle: str, typical_s: Mapping[str, float], default_s: float) -> int:
        """Seconds until this ticket is likely called; 0 with nobody ahead, else at least a minute.
        With no window open the estimate assumes one will open, rather than reporting infinity."""
        calls = calls_before(cycle, self.cls, self.own_ahead, self.priority_waiting, self.normal_waiting)
        if calls <= 0:
            return 0
        per_call = self.per_call_s(typical_s, default_s)
        return max(AHEAD_MIN_S, int(round((calls + RESIDUAL_SHARE) * per_call / max(1, self.open_windows))))
