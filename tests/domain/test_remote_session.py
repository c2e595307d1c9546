"""The pure rules of a video session: who joins as which side (what ends one: tests/remote_session/test_ends.py)."""
from __future__ import annotations

from queue_server.domain.remote_session import side_of

C = "jingansi"


def test_only_the_windows_clerk_and_the_points_devices_join() -> None:
    assert side_of("staff", C, "r1", None, C, "r1", "sp1") == "window"
    assert side_of("device", C, None, "sp1", C, "r1", "sp1") == "point"
    for who in (("staff", C, "r2", None), ("staff", C, None, None), ("device", C, None, "sp3"), ("device", C, "w1", None),
                ("manager", C, None, None), ("assistant", C, None, "sp1"), ("admin", None, None, None),
                ("staff", "other", "r1", None), ("device", "other", None, "sp1")):
        assert side_of(*who, C, "r1", "sp1") is None, who
