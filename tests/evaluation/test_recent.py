"""The tickets a process saw finish lately, from the live events the hub hands its listeners."""
from __future__ import annotations

from queue_server.realtime.events import ZERO, LiveEvent
from evaluation.served import RecentlyFinished


def finished(n: int, phone: bool = False, kind: str = "ticket.finished") -> LiveEvent:
    ticket = {"id": f"jingansi-20261130-A{n:03d}", "center": "jingansi", "window": "w2", "matter": "hrss-001",
              "day": "20261130", "finished_at": 1_764_464_400_000 + n}
    if phone:
        ticket["phone_masked"] = "138****5678"   # as screens get it: never the number
    data = {"type": kind, "ticket": ticket, "window": {"id": "w2", "staff_id": "jingansi-s02"}}
    return LiveEvent("jingansi", f"1-{n}", ZERO, kind, frozenset({"w2"}), ticket["id"], data, b"")


def test_keeps_the_last_finishes_as_served_tickets() -> None:
    recent = RecentlyFinished(size=3)
    recent.take(finished(0, kind="ticket.called"))
    for n in range(1, 5):
        recent.take(finished(n, phone=n == 4))
    assert recent.get(finished(0).ticket_id or "") is None        # not a finish
    assert recent.get(finished(1).ticket_id or "") is None        # fell out
    s = recent.get(finished(4).ticket_id or "")
    assert s is not None
    assert (s.center, s.window, s.staff_id, s.matter, s.finished_at_ms, s.has_phone, s.unrated) == (
        "jingansi", "w2", "jingansi-s02", "hrss-001", 1_764_464_400_004, True, False)
    assert recent.get(finished(2).ticket_id or "").has_phone is False  # type: ignore[union-attr]
