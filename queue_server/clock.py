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
