"""Pure rules of a remote acceptance's materials (材料): the checklist item of a matter, the review of a
scan, and the hand-over of the originals that must reach the center (材料流转)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Form = Literal["original", "copy"]
FORMS: tuple[str, ...] = ("original", "copy")

# A scan is reviewed once by the clerk: accepted, or rejected with a reason (the assistant rescans).
SCAN_STATES = ("pending", "accepted", "rejected")
DECISIONS = ("accepted", "rejected")

# Tickets whose materials the point may scan and the clerk may review: called to, or at, the window.
SCANNABLE = frozenset({"called", "serving", "paused"})

# The hand-over of originals, in order; each step is done by one side only.
STEPS: tuple[str, ...] = ("packed", "sent", "received", "returned")
POINT_SIDE = frozenset({"packed", "sent", "returned"})   # the assistant at the point
CENTER_SIDE = frozenset({"received"})                      # a clerk or manager at the center
IN_TRANSIT = frozenset({"packed", "sent"})                 # not yet at the center
AT_CENTER = "received"                                     # the originals wait to go back


@dataclass(frozen=True)
class MaterialItem:
    """One line of a matter's checklist: what to bring, whether the original or a copy, how many,
    and whether the original must travel to the center (else it is shown, scanned and handed back)."""

    item: int
    name_zh: str
    name_en: str
    form: str
    copies: int
    to_center: bool


def previous_step(step: str) -> str | None:
    """The state a package must be in for ``step``: None for the first (it creates the package)."""
    i = STEPS.index(step)
    return STEPS[i - 1] if i else None


def side_of(step: str) -> str:
    return "point" if step in POINT_SIDE else "center"


def return_overdue(state: str, return_due_ms: int | None, now_ms: int) -> bool:
    """Originals kept at the center past the day they were due back at the point."""
    return state == AT_CENTER and return_due_ms is not None and now_ms > return_due_ms
