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
