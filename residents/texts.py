"""What the residents' SMS say, Chinese first with English after. Pure."""
from __future__ import annotations

from evaluation.sms.texts import SIGNATURE


def code(digits: str, center_zh: str, center_en: str, minutes: int) -> str:
    return (f"{SIGNATURE}您在{center_zh}远程取号的验证码是 {digits}，{minutes}分钟内有效。请勿告诉他人。"
            f"\nYour code to take a ticket at {center_en}: {digits} (valid {minutes} min). Do not share it.")


def near(number: str, ahead: int, center_zh: str, center_en: str) -> str:
    people = "person" if ahead == 1 else "people"
    return (f"{SIGNATURE}快到您了：{center_zh}{number}号前面还有{ahead}位，请尽快到中心并在取号机或窗口签到。回复退订拒收。"
            f"\nYour turn is near: {ahead} {people} ahead of ticket {number} at {center_en}. Please come and check in."
            f" Reply STOP to opt out.")


def called(number: str, window_zh: str, window_en: str, center_zh: str, center_en: str) -> str:
    return (f"{SIGNATURE}请{number}号到{center_zh}{window_zh}办理。回复退订拒收。"
            f"\nTicket {number}: please go to {window_en}, {center_en}. Reply STOP to opt out.")
