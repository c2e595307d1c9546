"""``python -m loadtests.ratings``: tablet ratings and SMS replies at a small rate, every one
answered and recorded, and each part of a rating's time given (an SMS reply's statement as the
first on a new connection, with and without the pool's preparing on open, among them)."""
from __future__ import annotations

from loadtests.ratings import measure


async def test_ratings_and_replies_are_recorded_and_their_parts_timed() -> None:
    out = await measure(rate=20, seconds=1, sms_share=0.25)
    loaded = out["loaded"]
    assert loaded["tablet_rating"]["n"] == 20 and loaded["sms_reply"]["n"] == 5
    assert loaded["tablet_rating"]["failed"] == loaded["sms_reply"]["failed"] == 0
    assert loaded["recorded"] == 20 + 5
    assert all(part["n"] > 0 and part["p50"] > 0 for part in out["unloaded"].values())
