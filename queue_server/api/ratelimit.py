"""Per-client token buckets for what outsiders can send (kiosks, residents, webhooks). In-process,
so a limit costs no round trip; with N instances the effective limit is at most N times it."""
from __future__ import annotations

import time

from .problems import Problem


class RateLimiter:
    def __init__(self, per_minute: int, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst or max(10, per_minute // 4))
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, client: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            retry = int((1.0 - tokens) / self.rate) + 1
            raise Problem(429, "Too many requests", f"slow down; retry in {retry} s", retry_after_s=retry)
        if len(self._buckets) > 100_000:
            self._buckets.clear()
        self._buckets[client] = (tokens - 1.0, now)
