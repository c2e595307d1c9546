"""What the door-to-door SMS say to the resident, bilingual. Pure."""
from __future__ import annotations

from datetime import date

from evaluation.sms.texts import SIGNATURE

SLOTS = {"am": ("上午 9:00–11:30", "morning 9:00–11:30"), "pm": ("下午 13:30–16:30", "afternoon 13:30–16:30")}
FORMS = {"original": "原件", "copy": "复印件"}
APPROVALS = {"submitted": ("已提交审批", "submitted for approval"), "in_review": ("审批中", "under review"),
             "approved": ("已批准", "approved"), "rejected": ("未获批准", "not approved")}


def refused(case_id: int, explanation: str) -> str:
    return (f"{SIGNATURE}您的上门帮办申请（编号{case_id}）经审核暂不符合上门服务条件：{explanation}。如有疑问请致电社区事务受理中心。"
            f"\nYour door-to-door request {case_id} does not qualify for a home visit: {explanation}. "
            f"Please call the center with any question.")


def scheduled(case_id: int, day: date, slot: str, materials: list[str]) -> str:
    zh_slot, en_slot = SLOTS[slot]
    listed = "、".join(materials) if materials else "无"
    return (f"{SIGNATURE}上门帮办（编号{case_id}）已安排在{day.month}月{day.day}日{zh_slot}。请提前准备：{listed}。"
            f"\nHome visit {case_id}: {day.isoformat()}, {en_slot}. Please have ready: {listed}.")


def approval_changed(case_id: int, matter_zh: str, matter_en: str, state: str, expected_by: date | None) -> str:
    zh, en = APPROVALS[state]
    due_zh = f"，预计{expected_by.month}月{expected_by.day}日前办结" if expected_by and state in ("submitted", "in_review") else ""
    due_en = f", expected by {expected_by.isoformat()}" if expected_by and state in ("submitted", "in_review") else ""
    return (f"{SIGNATURE}您的上门帮办事项（编号{case_id}）“{matter_zh}”{zh}{due_zh}。"
            f"\nYour matter \"{matter_en}\" (home visit {case_id}) is {en}{due_en}.")

