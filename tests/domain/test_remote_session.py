"""The pure rules of a video session: who joins as which side, and which events end it."""
from __future__ import annotations

from queue_server.domain.remote_session import SessionEnd, session_end, side_of

C = "jingansi"


def test_only_the_windows_clerk_and_the_points_devices_join() -> None:
    assert side_of("staff", C, "r1", None, C, "r1", "sp1") == "window"
    assert side_of("device", C, None, "sp1", C, "r1", "sp1") == "point"
    for who in (("staff", C, "r2", None), ("staff", C, None, None), ("device", C, None, "sp3"), ("device", C, "w1", None),
                ("manager", C, None, None), ("assistant", C, None, "sp1"), ("admin", None, None, None),
                ("staff", "other", "r1", None), ("device", "other", None, "sp1")):
        assert side_of(*who, C, "r1", "sp1") is None, who


def _ticket_event(kind: str, status: str, at: str | None, window: str | None = "r1", point: str | None = "sp1") -> dict:
    event: dict = {"type": kind, "ticket": {"id": "t1", "status": status, "window": at, "service_point": point}}
    if window:
        event["window"] = {"id": window}
    return event


def test_the_ticket_leaving_the_window_or_the_window_pausing_ends_it() -> None:
    assert session_end(_ticket_event("ticket.finished", "finished", "r1")) == SessionEnd("r1", "t1", "finished")
    assert session_end(_ticket_event("ticket.no_show", "no_show", "r1")) == SessionEnd("r1", "t1", "no_show")
    assert session_end(_ticket_event("ticket.transferred", "waiting", None)) == SessionEnd("r1", "t1", "transferred")
    assert session_end(_ticket_event("ticket.paused", "paused", None)) == SessionEnd("r1", "t1", "paused")
    assert session_end({"type": "window.paused", "window": {"id": "r1"}}) == SessionEnd("r1", None, "window_paused")
    assert session_end({"type": "window.closed", "window": {"id": "r1"}}) == SessionEnd("r1", None, "window_closed")


def test_what_keeps_the_ticket_at_the_window_ends_nothing() -> None:
    assert session_end(_ticket_event("ticket.called", "called", "r1")) is None
    assert session_end(_ticket_event("ticket.started", "serving", "r1")) is None
    assert session_end(_ticket_event("ticket.recalled", "called", "r1")) is None
    assert session_end(_ticket_event("ticket.present", "called", "r1", window=None)) is None
    assert session_end(_ticket_event("ticket.finished", "finished", "r1", point=None)) is None   # a hall ticket
    assert session_end({"type": "window.opened", "window": {"id": "r1"}}) is None
    assert session_end({"type": "session.closed", "window": {"id": "r1"}}) is None
