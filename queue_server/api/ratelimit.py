"""Per-client token buckets for what outsiders can send (kiosks, residents, webhooks). In-process,
so a limit costs no round trip; with N instances the effective limit is at most N times it."""
from __future__ import annotations

import time
from collections import OrderedDict

from .problems import Problem

MAX_CLIENTS = 100_000


class RateLimiter:
    """Buckets kept for at most ``max_clients``, the least recently seen forgotten first: a flood of
    new clients costs only the buckets of those gone quiet longest (most of them full again by then,
    so forgetting them changes nothing), never everyone's limits at once."""

    def __init__(self, per_minute: int, burst: int | None = None, max_clients: int = MAX_CLIENTS) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst or max(10, per_minute // 4))
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def check(self, client: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets.move_to_end(client)
            retry = int((1.0 - tokens) / self.rate) + 1
            raise Problem(429, "Too many requests", f"slow down; retry in {retry} s", retry_after_s=retry)
        self._buckets[client] = (tokens - 1.0, now)
        self._buckets.move_to_end(client)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
