"""Devices as the registry knows them, and the rules of their presence: what a registered kind may
do (the token's capability, which the sockets and endpoints check), and when one counts as offline."""
from __future__ import annotations

# registered kind -> the token's device_kind (what it may open: realtime/endpoints.py, network/sockets.py)
CAPABILITY = {
    "kiosk": "kiosk",
    "all_in_one": "kiosk",        # the point's dual-screen machine: it issues tickets like a kiosk
    "printer": "printer",         # opens no page: heard from by its HTTP heartbeat only
    "hall_display": "display",
    "window_screen": "screen",
    "tablet": "tablet",
    "dashboard": "dashboard",
}
# a token's device_kind -> the kind it is registered as, for tokens made without naming a registered kind
KIND_OF_CAPABILITY = {"kiosk": "kiosk", "printer": "printer", "display": "hall_display", "screen": "window_screen",
                      "tablet": "tablet", "dashboard": "dashboard"}
KINDS = tuple(CAPABILITY)


def presence_field(capability: str, window: str | None, label: str) -> str:
    """A device's field in its center's presence hash (realtime/presence.py writes it, the watcher reads it)."""
    return f"{capability}:{window or '-'}:{label}"


def is_online(last_seen_ms: int | None, now_ms: int, offline_after_s: int) -> bool:
    """Heard from within its threshold. A socket that just closed is not yet offline: a screen that
    reconnects within the threshold never flaps."""
    return last_seen_ms is not None and now_ms - last_seen_ms <= offline_after_s * 1000


# Scheduled inspections (巡检): what an inspector checks on each kind of device, as (item, 中文, English).
CHECKLIST: dict[str, tuple[tuple[str, str, str], ...]] = {
    "kiosk": (("prints_cuts", "打印并切纸", "prints and cuts the ticket"), ("qr_scan", "扫码识别", "QR codes scan"),
              ("touch", "触屏灵敏", "touch responds"), ("network", "网络连通", "network")),
    "all_in_one": (("prints_cuts", "打印并切纸", "prints and cuts the ticket"), ("qr_scan", "扫码识别", "QR codes scan"),
                   ("touch", "触屏灵敏", "touch responds"), ("second_screen", "副屏显示", "second screen shows"),
                   ("network", "网络连通", "network")),
    "printer": (("prints_cuts", "打印并切纸", "prints and cuts the ticket"), ("paper", "纸张充足", "paper stocked"),
                ("network", "网络连通", "network")),
    "hall_display": (("shows_calls", "显示叫号", "shows calls"), ("audio", "语音清晰", "audio audible"),
                     ("network", "网络连通", "network")),
    "window_screen": (("shows_calls", "显示叫号", "shows calls"), ("readable", "字迹清楚", "readable"),
                      ("network", "网络连通", "network")),
    "tablet": (("rating_buttons", "评价按键有效", "rating buttons respond"), ("battery", "电量充足", "battery charged"),
               ("network", "网络连通", "network")),
    "dashboard": (("figures_update", "数据刷新", "figures update"), ("network", "网络连通", "network")),
}
DEFAULT_INTERVAL_DAYS = 30
DUE_AHEAD_DAYS = 7          # an inspection may be done this long before its interval ends, so it is done on time
DAY_MS = 86_400_000


def inspection_window(since_ms: int, interval_days: int, inspected: bool, last_passed: bool) -> tuple[int, int]:
    """(due from, overdue from) in ms. ``since_ms`` is the last inspection's time, or the device's
    registration if it never was. A device never inspected, or whose last inspection failed (it is
    checked again once repaired), is due at once; otherwise from a week before its interval ends.
    Either way it is overdue once its interval has passed."""
    overdue = since_ms + interval_days * DAY_MS
    if not inspected or not last_passed:
        return since_ms, overdue
    return max(since_ms, overdue - DUE_AHEAD_DAYS * DAY_MS), overdue


def inspection_status(now_ms: int, due_ms: int, overdue_ms: int) -> str:
    """``ok`` (not yet due), ``due`` or ``overdue``."""
    if now_ms >= overdue_ms:
        return "overdue"
    return "due" if now_ms >= due_ms else "ok"


def checklist_refusal(kind: str, items: dict[str, bool], passed: bool) -> tuple[str, str] | None:
    """(field, why) if the per-item results do not match the kind's checklist or the overall result;
    None if they do. Every item is answered once; an overall pass with a failed item is a contradiction."""
    expected = {code for code, _, _ in CHECKLIST[kind]}
    missing, unknown = expected - set(items), set(items) - expected
    if unknown:
        return "items", f"not on a {kind}'s checklist: {', '.join(sorted(unknown))}"
    if missing:
        return "items", f"unanswered: {', '.join(sorted(missing))}"
    if passed and not all(items.values()):
        return "result", "a pass with a failed item"
    return None
