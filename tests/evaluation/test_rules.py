"""The pure rules: what an SMS reply means, working-day deadlines, the case's life cycle."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from evaluation.levels import Reason, is_bad, parse_reasons, review_level
from evaluation.rectification import CaseError, next_state, overdue_stages
from evaluation.sms.conversation import interpret
from evaluation.sms.texts import e164
from queue_server.domain.calendar import Calendar

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("text, level", [
    ("5", 5), (" 1 ", 1), ("５", 5), ("3分", 3), ("4.", 4), ("非常满意", 5), ("满意", 4), ("基本满意", 3), ("不满意", 2),
    ("非常不满意", 1), ("很满意！", 5), ("一般吧", 3), ("Very satisfied", 5), ("dissatisfied", 2), ("6", None),
    ("0", None), ("12", None), ("你好", None), ("", None),
])
def test_review_level(text: str, level: int | None) -> None:
    assert review_level(text) == level


def test_reasons_from_a_reply() -> None:
    assert parse_reasons("2") == ([Reason.ATTITUDE], "2")
    assert parse_reasons("1,3 等太久")[0] == [Reason.EFFICIENCY, Reason.PROFESSIONALISM]
    assert parse_reasons("材料要求说不清楚")[0] == [Reason.PROCESS]
    assert parse_reasons("就是不好")[0] == [Reason.OTHER]
    assert len(parse_reasons("x" * 900)[1]) == 500


def test_bad_levels() -> None:
    assert [is_bad(n) for n in range(1, 6)] == [True, True, False, False, False]


def test_conversation() -> None:
    assert interpret("stop", "level").kind == "opt_out"
    assert interpret("退订", None).kind == "opt_out"
    assert interpret("START", "done").kind == "opt_in"
    assert interpret("5", None).kind == "nothing"
    assert interpret("5", "level").level == 5
    assert interpret("hello", "level").kind == "not_understood"
    assert interpret("2", "reason").reasons == [Reason.ATTITUDE]
    assert interpret("5", "done").kind == "done"


def test_numbers() -> None:
    assert e164("13812345678") == e164("+8613812345678") == e164("86 138 1234 5678") == "+8613812345678"


def local(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=SH)


def test_working_days() -> None:
    """Deadlines count the opening calendar's working days: the official schedule, and the calendar
    file's days where it says otherwise (tests/calendar has the library's holidays and 调休)."""
    friday = local(2026, 12, 4, 15)
    plain = Calendar()
    assert plain.add_working_days(friday, 1, "Asia/Shanghai") == local(2026, 12, 8, 0)  # end of Monday
    assert plain.add_working_days(friday, 5, "Asia/Shanghai") == local(2026, 12, 12, 0)
    saturday = local(2026, 12, 5)
    assert plain.add_working_days(saturday, 1, "Asia/Shanghai") == local(2026, 12, 8, 0)
    holiday = Calendar(official={date(2026, 12, 7): False})
    assert holiday.add_working_days(friday, 1, "Asia/Shanghai") == local(2026, 12, 9, 0)
    makeup = Calendar(official={date(2026, 12, 5): True})  # a Saturday worked in lieu
    assert makeup.add_working_days(friday, 1, "Asia/Shanghai") == local(2026, 12, 6, 0)
    late_utc = datetime(2026, 12, 3, 17, tzinfo=timezone.utc)  # already Friday 01:00 in Shanghai
    assert plain.add_working_days(late_utc, 1, "Asia/Shanghai") == local(2026, 12, 8, 0)


def test_case_life_cycle() -> None:
    assert next_state("contact", "open", None) == "contacted"
    assert next_state("appeal", "contacted", None) == "appealed"
    assert next_state("dismiss", "appealed", "contacted") == "contacted"
    assert next_state("uphold", "appealed", "open") == "upheld"
    for action, state in (("verify", "open"), ("close", "verified"), ("appeal", "rectified"), ("contact", "closed")):
        with pytest.raises(CaseError):
            next_state(action, state, None)
    with pytest.raises(CaseError):
        next_state("delete", "open", None)


def test_overdue_stages() -> None:
    due = {"contact_due": local(2026, 12, 8, 0), "resolve_due": local(2026, 12, 12, 0), "rectify_due": local(2026, 12, 26, 0)}
    case = {**due, "state": "open", "contacted_at": None, "verified_at": None, "rectified_at": None}
    assert overdue_stages(case, local(2026, 12, 7)) == []
    assert overdue_stages(case, local(2026, 12, 8, 1)) == ["contact"]
    assert overdue_stages({**case, "contacted_at": local(2026, 12, 7)}, local(2026, 12, 13)) == ["resolve"]
    assert overdue_stages({**case, "state": "appealed"}, local(2026, 12, 30)) == []
