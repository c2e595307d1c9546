"""The one source of "now": injectable so tests can cross local midnight or a deadline."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ShiftedClock:
    """System time moved by a fixed offset, running at the real pace: every process of a test given
    the same offset lives on the same service day, so no test straddles Shanghai midnight."""

    def __init__(self, offset_ms: int) -> None:
        self.offset_ms = offset_ms

    @classmethod
    def starting_at(cls, at: datetime) -> "ShiftedClock":
        return cls(int(at.timestamp() * 1000) - SystemClock().now_ms())

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        self._ms = int(at.timestamp() * 1000)

    def now_ms(self) -> int:
        return self._ms

    def set(self, at: datetime) -> None:
        self._ms = int(at.timestamp() * 1000)

    def advance(self, seconds: float) -> None:
        self._ms += int(seconds * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
