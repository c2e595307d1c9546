"""The door-to-door rules without I/O: the stages a case may go through, the service lists, who may
visit, approvals, overdue and the median."""
from __future__ import annotations

from datetime import date

import pytest

from queue_server.domain.door import (
    Action, IllegalTransition, Stage, all_done, case_difficulty, effective_list, eligibility, is_overdue, may_visit,
    median_days, next_approval, next_stage)


def test_the_only_way_through_is_discovery_review_visit_tracking_closing() -> None:
    stage = Stage.DISCOVERED
    for action in (Action.APPROVE, Action.SCHEDULE, Action.SCHEDULE, Action.ACCEPT):
        stage = next_stage(stage, action)
    assert stage == Stage.TRACKING
    assert next_stage(stage, Action.CLOSE, approvals_done=True) == Stage.CLOSED


@pytest.mark.parametrize("stage,action", [
    (Stage.DISCOVERED, Action.SCHEDULE),     # no skipping review
    (Stage.DISCOVERED, Action.ACCEPT),
    (Stage.APPROVED, Action.ACCEPT),         # no visit without a schedule
    (Stage.APPROVED, Action.CLOSE),
    (Stage.REFUSED, Action.APPROVE),
    (Stage.TRACKING, Action.CANCEL),
    (Stage.CLOSED, Action.SCHEDULE),
    (Stage.CANCELLED, Action.APPROVE),
])
def test_illegal_steps_are_refused(stage: Stage, action: Action) -> None:
    with pytest.raises(IllegalTransition) as err:
        next_stage(stage, action, reason="why")
    assert err.value.code == "illegal_transition"


def test_closing_waits_for_every_approval_and_refusals_say_why() -> None:
    with pytest.raises(IllegalTransition, match="every approval"):
        next_stage(Stage.TRACKING, Action.CLOSE)
    for action in (Action.REFUSE, Action.CANCEL):
        with pytest.raises(IllegalTransition) as err:
            next_stage(Stage.DISCOVERED, action, reason="  ")
        assert err.value.code == "reason_required"
    assert next_stage(Stage.SCHEDULED, Action.NOT_ACCEPTED, "材料不全") == Stage.APPROVED
    assert not all_done([]) and not all_done(["approved", "in_review"]) and all_done(["approved", "rejected"])


def test_a_center_adds_to_the_district_list_but_never_makes_it_simpler() -> None:
    district = {"mi-004": "simple", "dpf-001": "complex"}
    own = {"dpf-001": "simple", "mi-004": "complex", "ca-003": "simple"}
    assert effective_list(district, own) == {"mi-004": "complex", "dpf-001": "complex", "ca-003": "simple"}
    assert case_difficulty(["simple", "complex"]) == "complex" and case_difficulty(["simple"]) == "simple"
    assert may_visit("simple", "volunteer") and may_visit("complex", "staff") and not may_visit("complex", "consultant")


def test_eligibility_checks_the_list_and_the_reason() -> None:
    listed = {"mi-004": "simple"}
    assert eligibility(["mi-004"], listed, "elderly", "").eligible
    assert eligibility(["mi-004", "hrss-001"], listed, "elderly", "").off_list == ("hrss-001",)
    assert not eligibility(["mi-004"], listed, "other", "").eligible
    assert eligibility(["mi-004"], listed, "other", "术后卧床 bedridden after surgery").eligible


def test_approvals_move_forward_and_are_overdue_the_day_after_their_date() -> None:
    assert next_approval("submitted", "in_review") == "in_review"
    assert next_approval("submitted", "approved") == "approved"
    for frm, to in [("approved", "in_review"), ("in_review", "submitted"), ("rejected", "approved")]:
        with pytest.raises(IllegalTransition):
            next_approval(frm, to)
    due = date(2026, 12, 10)
    assert not is_overdue("in_review", due, date(2026, 12, 10))
    assert is_overdue("in_review", due, date(2026, 12, 11))
    assert not is_overdue("approved", due, date(2027, 1, 1)) and not is_overdue(None, due, date(2027, 1, 1))
    assert median_days([]) is None and median_days([86_400_000, 3 * 86_400_000, 10 * 86_400_000]) == 3.0
