"""Call-next policy.

Order of precedence for a window:
1. tickets transferred to this very window, oldest first;
2. then a repeating cycle of slots, e.g. ``PNN`` for "2 normal : 1 priority": a P slot takes the
   oldest priority ticket, an N slot takes an appointment whose slot has begun, else the oldest
   normal ticket. When the class a slot wants is empty the other class is served and the cycle
   stays where it is, so priority tickets go first yet can never starve the normal line.
Within a class, tickets of every queue the window serves compete by their original issue time,
which transfer keeps. The cycle is walked by the call_next Lua script.
"""
from __future__ import annotations


def ratio_cycle(normal: int, priority: int) -> str:
    """The slot cycle for a ratio of normal to priority calls, priority slots first."""
    if normal < 1 or priority < 1:
        raise ValueError("both sides of the priority ratio must be at least 1")
    return "P" * priority + "N" * normal


def simulate(cycle: str, priority_waiting: int, normal_waiting: int) -> str:
    """Reference model of the cycle (used by tests to check the Lua script): the classes called, in order."""
    pos, out = 0, []
    while priority_waiting or normal_waiting:
        want = cycle[pos]
        if want == "P" and priority_waiting:
            out.append("P"); priority_waiting -= 1; pos = (pos + 1) % len(cycle)
        elif want == "N" and normal_waiting:
            out.append("N"); normal_waiting -= 1; pos = (pos + 1) % len(cycle)
        elif priority_waiting:
            out.append("P"); priority_waiting -= 1
        else:
            out.append("N"); normal_waiting -= 1
    return "".join(out)
