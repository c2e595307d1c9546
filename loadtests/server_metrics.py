"""The servers' own view of request latency (``/metrics``: ``http_request_duration_seconds`` per
route template), over the measured window: told apart from what the load generators saw, it shows
whether a slow tail is the server's or the shared machine's (a generator or server not scheduled)."""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import httpx

from .harness import ADMIN_TOKEN

_BUCKET = re.compile(r'^http_request_duration_seconds_bucket\{(?P<labels>.*)\} (?P<n>\S+)$')
_LABEL = re.compile(r'(\w+)="([^"]*)"')
Buckets = dict[tuple[str, str], dict[float, float]]   # (method, route) -> upper bound (s) -> cumulative count


def scrape(urls: list[str]) -> Buckets:
    """Cumulative latency buckets per route, summed over the servers (statuses merged)."""
    out: Buckets = defaultdict(lambda: defaultdict(float))
    for url in urls:
        text = httpx.get(f"{url}/metrics", timeout=5, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).text
        for line in text.splitlines():
            m = _BUCKET.match(line)
            if not m:
                continue
            labels = dict(_LABEL.findall(m["labels"]))
            le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
            out[(labels["method"], labels["route"])][le] += float(m["n"])
    return out


def window(before: Buckets, after: Buckets) -> dict[str, Any]:
    """Per route: requests in the window and the bucket bounds (ms) their p50 and p99 fall under."""
    out: dict[str, Any] = {}
    for key, buckets in after.items():
        delta = {le: n - before.get(key, {}).get(le, 0.0) for le, n in buckets.items()}
        total = delta.get(float("inf"), 0.0)
        if total <= 0:
            continue

        def under(p: float) -> float | None:
            for le in sorted(delta):
                if delta[le] >= total * p / 100:
                    return None if le == float("inf") else round(le * 1000, 1)
            return None

        out[f"{key[0]} {key[1]}"] = {"count": int(total), "p50_le_ms": under(50), "p99_le_ms": under(99)}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["count"]))
