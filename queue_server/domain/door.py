"""Door-to-door assistance (上门帮办): the stages of a case and the only ways between them, who may
visit for a matter, what the service lists allow, and when an approval is overdue. Pure rules, no
I/O: the store asks these before it writes anything, so an illegal step is refused (409) whole.

discovered ─approve→ approved ─schedule→ scheduled ─accept→ tracking ─close→ closed
     │                  ↑                   │  ↺ schedule                 (every approval done)
     └─refuse→ refused  └──── not_accepted ─┘
discovered | approved | scheduled ─cancel→ cancelled
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Stage(StrEnum):
    DISCOVERED = "discovered"
    APPROVED = "approved"        # eligible: waits for a visit to be scheduled
    REFUSED = "refused"
    SCHEDULED = "scheduled"
    TRACKING = "tracking"        # accepted on site: the approvals that follow are tracked
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Action(StrEnum):
    APPROVE = "approve"
    REFUSE = "refuse"
    SCHEDULE = "schedule"
    ACCEPT = "accept"              # the visit took the application
    NOT_ACCEPTED = "not_accepted"  # visited, but nothing could be accepted (say why): schedule again
    CLOSE = "close"
    CANCEL = "cancel"


OPEN = frozenset({Stage.DISCOVERED, Stage.APPROVED, Stage.SCHEDULED, Stage.TRACKING})
# Stages in the order a case goes through them (the board and the figures count by them).
STAGES = (Stage.DISCOVERED, Stage.APPROVED, Stage.SCHEDULED, Stage.TRACKING, Stage.CLOSED, Stage.REFUSED,
          Stage.CANCELLED)

_NEXT: dict[tuple[Stage, Action], Stage] = {
    (Stage.DISCOVERED, Action.APPROVE): Stage.APPROVED,
    (Stage.DISCOVERED, Action.REFUSE): Stage.REFUSED,
    (Stage.APPROVED, Action.SCHEDULE): Stage.SCHEDULED,
    (Stage.SCHEDULED, Action.SCHEDULE): Stage.SCHEDULED,
    (Stage.SCHEDULED, Action.ACCEPT): Stage.TRACKING,
    (Stage.SCHEDULED, Action.NOT_ACCEPTED): Stage.APPROVED,
    (Stage.TRACKING, Action.CLOSE): Stage.CLOSED,
    (Stage.DISCOVERED, Action.CANCEL): Stage.CANCELLED,
    (Stage.APPROVED, Action.CANCEL): Stage.CANCELLED,
    (Stage.SCHEDULED, Action.CANCEL): Stage.CANCELLED,
}
NEEDS_REASON = frozenset({Action.REFUSE, Action.NOT_ACCEPTED, Action.CANCEL})


class IllegalTransition(Exception):
    """A step the case's stage does not allow (409); ``code`` is stable for clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def next_stage(stage: Stage | str, action: Action | str, reason: str = "", approvals_done: bool = False) -> Stage:
    """The stage ``action`` leads to from ``stage``, or IllegalTransition: no skipping review, no visit
    without a schedule, no closing before every approval is done, and a refusal always says why."""
    stage, action = Stage(stage), Action(action)
    to = _NEXT.get((stage, action))
    if to is None:
        raise IllegalTransition("illegal_transition", f"a {stage} case cannot {action.replace('_', ' ')}")
    if action in NEEDS_REASON and not reason.strip():
        raise IllegalTransition("reason_required", f"{action.replace('_', ' ')} needs a reason")
    if action == Action.CLOSE and not approvals_done:
        raise IllegalTransition("approvals_pending", "a case closes only when every approval is done")
    return to


# ---- the matters: service lists, difficulty, who visits ------------------------------------------

class Difficulty(StrEnum):
    SIMPLE = "simple"      # a volunteer or an elderly-care consultant may help (medical insurance, records)
    COMPLEX = "complex"    # acceptance staff only


class VisitorKind(StrEnum):
    STAFF = "staff"            # acceptance staff of the center
    CONSULTANT = "consultant"  # assistance or elderly-care consultant
    VOLUNTEER = "volunteer"


DISTRICT = "district"      # the scope of the district's list; a center's own additions use its code


def effective_list(district: dict[str, str], own: dict[str, str]) -> dict[str, str]:
    """Matter -> difficulty at a center: the district's list with the center's additions. A center
    may add matters or rate one as complex; it may not make a district matter simpler than the
    district rated it (the district's rating is the floor)."""
    out = dict(district)
    for matter, difficulty in own.items():
        if out.get(matter) != Difficulty.COMPLEX:
            out[matter] = difficulty
    return out


def list_problems(items: list[tuple[str, str]], known_matters: set[str] | frozenset[str]) -> list[tuple[int, str]]:
    """What is wrong with a list's (matter, difficulty) items, by position: an unknown matter, one
    listed twice, a difficulty that is neither simple nor complex. Empty: the list may be saved."""
    problems: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i, (matter, difficulty) in enumerate(items):
        if matter not in known_matters:
            problems.append((i, f"unknown matter {matter!r}"))
        elif matter in seen:
            problems.append((i, f"{matter!r} is listed twice"))
        elif difficulty not in set(Difficulty):
            problems.append((i, f"difficulty {difficulty!r}: simple or complex"))
        seen.add(matter)
    return problems


def case_difficulty(difficulties: list[str]) -> Difficulty:
    """A visit for several matters is as hard as its hardest one."""
    return Difficulty.COMPLEX if Difficulty.COMPLEX in difficulties else Difficulty.SIMPLE


def may_visit(difficulty: Difficulty | str, visitor: VisitorKind | str) -> bool:
    """Complex matters need acceptance staff; anyone on the roster may help with simple ones."""
    return Difficulty(difficulty) == Difficulty.SIMPLE or VisitorKind(visitor) == VisitorKind.STAFF


class HomeServiceReason(StrEnum):
    """Why the resident cannot come (the policy's target groups)."""
    LIMITED_MOBILITY = "limited_mobility"
    ELDERLY = "elderly"
    DISABILITY = "disability"
    SERIOUS_ILLNESS = "serious_illness"
    OTHER = "other"


class Source(StrEnum):
    HOTLINE = "hotline"
    COMMITTEE = "committee"    # neighborhood committee
    GRID = "grid"              # grid worker
    ONLINE = "online"          # the online form
    STAFF = "staff"
    OUTREACH = "outreach"      # "policy finds people": a data match says the resident may be entitled


@dataclass(frozen=True)
class Eligibility:
    off_list: tuple[str, ...]       # matters the center's list does not carry
    reason_unexplained: bool        # "other" given without saying what

    @property
    def eligible(self) -> bool:
        return not self.off_list and not self.reason_unexplained


def eligibility(matters: list[str], service_list: dict[str, str], reason: str, reason_note: str) -> Eligibility:
    """What a review checks: every matter is on the center's door-to-door list, and the reason for
    home service is one of the target groups' or is explained."""
    return Eligibility(tuple(m for m in matters if m not in service_list),
                       HomeServiceReason(reason) == HomeServiceReason.OTHER and not reason_note.strip())


# ---- tracking the approvals ----------------------------------------------------------------------

class Approval(StrEnum):
    SUBMITTED = "submitted"    # handed into processing at the visit
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"


DONE = frozenset({Approval.APPROVED, Approval.REJECTED})
_APPROVAL_NEXT = {Approval.SUBMITTED: {Approval.IN_REVIEW, Approval.APPROVED, Approval.REJECTED},
                  Approval.IN_REVIEW: {Approval.APPROVED, Approval.REJECTED}}


def next_approval(current: Approval | str, to: Approval | str) -> Approval:
    """An approval moves forward only; a decided one stays decided."""
    current, to = Approval(current), Approval(to)
    if to not in _APPROVAL_NEXT.get(current, set()):
        raise IllegalTransition("illegal_transition", f"an approval {current.replace('_', ' ')} cannot become {to}")
    return to


def all_done(approvals: list[str | None]) -> bool:
    return bool(approvals) and all(a is not None and Approval(a) in DONE for a in approvals)


def is_overdue(state: Approval | str | None, expected_by: date | None, today: date) -> bool:
    """Still undecided the day after its expected completion date (local days)."""
    return state is not None and Approval(state) not in DONE and expected_by is not None and today > expected_by


def median_days(spans_ms: list[int]) -> float | None:
    """The median of spans given in ms, in days to one decimal; None without any."""
    if not spans_ms:
        return None
    return round(statistics.median(spans_ms) / 86_400_000, 1)
