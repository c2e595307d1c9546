"""What the SMS say, bilingual, and the numbers they go to. Pure."""
from __future__ import annotations

import re

from ..levels import LABELS, REASON_LABELS

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL", "退订", "TD"}
TWILIO_OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"}
OPT_IN = {"START", "UNSTOP", "YES", "订阅"}
SIGNATURE = "【静安社区事务受理】"


def e164(phone: str) -> str:
    """A mainland mobile number as Twilio writes it: +86 and eleven digits."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return f"+86{digits}"


def keyword(body: str) -> str:
    return body.strip().upper()


def _scale() -> str:
    return " ".join(f"{lvl}{LABELS[lvl][0]}" for lvl in (5, 4, 3, 2, 1))


def prompt(number: str, window_zh: str, window_en: str, url: str, reminder: bool = False) -> str:
    lead = "提醒：" if reminder else ""
    return (f"{SIGNATURE}{lead}您的{number}号业务已在{window_zh}办结。请回复数字评价：{_scale()}；或点此评价 {url} 回复退订拒收。"
            f"\nTicket {number} at {window_en} is done. Reply 5 (very satisfied) to 1 (very dissatisfied), or rate at "
            f"{url} . Reply STOP to opt out.")



def door_prompt(case_id: str, url: str) -> str:
    """The rating prompt after a door-to-door visit (its served id is CENTER-door-CASE)."""
    return (f"{SIGNATURE}您的上门帮办（编号{case_id}）已完成。请回复数字评价：{_scale()}；或点此评价 {url} 回复退订拒收。"
            f"\nHome visit {case_id} is done. Reply 5 (very satisfied) to 1 (very dissatisfied), or rate at {url} ."
            f" Reply STOP to opt out.")

def followup(number: str, url: str) -> str:
    return (f"{SIGNATURE}针对您对{number}号业务的意见，中心已整改。请回复数字1-5评价整改结果，或点此评价 {url}"
            f"\nWe acted on your feedback on ticket {number}. Reply 1-5 to rate the result, or rate at {url} .")


def ask_reason() -> str:
    zh = " ".join(f"{i}{zh}" for i, (zh, _) in enumerate(REASON_LABELS.values(), 1))
    en = ", ".join(f"{i} {en.lower()}" for i, (_, en) in enumerate(REASON_LABELS.values(), 1))
    return (f"抱歉给您带来不便。请回复原因编号（可多选）并可附说明：{zh}"
            f"\nSorry. Reply the reason number(s) and any comment: {en}.")


THANKS = "感谢您的评价！\nThank you for your rating!"
BAD_RECORDED = "已记录您的意见，中心将在1个工作日内与您联系。\nNoted; the center will contact you within one working day."
NOT_UNDERSTOOD = f"请回复数字1-5评价：{_scale()}。\nPlease reply with a number from 5 (very satisfied) to 1 (very dissatisfied)."
NOTHING_TO_RATE = "没有待评价的业务。\nThere is no service awaiting your rating."
ALREADY_RATED = "该业务已评价，感谢您的参与。\nThis service has already been rated. Thank you."
TOO_LATE = "该业务的评价期已结束。\nThe rating period for this service has ended."
OPTED_OUT = "您已退订评价短信，回复START可恢复。\nYou will get no more rating SMS. Reply START to resume."
OPTED_IN = "已恢复接收评价短信。\nYou will receive rating SMS again."
