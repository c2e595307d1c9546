"""The servers' own view over the measured window, from ``/metrics``: request latency per route
template (``http_request_duration_seconds``) and the event loop's lag and GC pauses
(``event_loop_lag_seconds``, ``event_loop_stall_samples``, ``gc_pause_seconds``). Told apart from what the load generators saw, they
show whether a slow tail is the server's (its loop stalled) or the shared machine's (a generator or
server not scheduled)."""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import httpx

from .harness import ADMIN_TOKEN

_BUCKET = re.compile(r'^(?P<name>\w+)_bucket\{(?P<labels>.*)\} (?P<n>\S+)$')
_STALL = re.compile(r'^event_loop_stall_samples_total\{where="(?P<where>[^"]*)"\} (?P<n>\S+)$')
_LABEL = re.compile(r'(\w+)="([^"]*)"')
Buckets = dict[tuple[str, str], dict[float, float]]   # (method, route) -> upper bound (s) -> cumulative count
Histograms = dict[str, dict[Any, float]]   # metric name -> upper bound (s) -> cumulative count; "stalled_in" -> where -> samples
STALLS = ("event_loop_lag_seconds", "gc_pause_seconds")


def _buckets(text: str) -> Any:
    """Each histogram bucket line of a scrape as (metric name, labels, upper bound, cumulative count)."""
    for line in text.splitlines():
        m = _BUCKET.match(line)
        if m:
            labels = dict(_LABEL.findall(m["labels"]))
            le = labels.pop("le")
            yield m["name"], labels, float("inf") if le == "+Inf" else float(le), float(m["n"])


def _get(client: httpx.Client, url: str) -> str:
    """A server's scrape through the caller's client: ``httpx.get`` makes a client, and its TLS
    context (a few ms of CPU), for each request, on the cores the run measures."""
    return client.get(f"{url}/metrics", timeout=5, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).text


def scrape(client: httpx.Client, urls: list[str]) -> Buckets:
    """Cumulative latency buckets per route, summed over the servers (statuses merged)."""
    out: Buckets = defaultdict(lambda: defaultdict(float))
    for url in urls:
        for name, labels, le, n in _buckets(_get(client, url)):
            if name == "http_request_duration_seconds":
                out[(labels["method"], labels["route"])][le] += n
    return out


def scrape_text(text: str) -> Histograms:
    """The loop-lag and GC-pause histograms of one scrape (every generation summed, and each as
    ``gc_pause_seconds:GENERATION``, its CPU as ``gc_cpu_seconds:GENERATION``), and the stall samples
    by where the loop's thread was."""
    out: Histograms = defaultdict(lambda: defaultdict(float))
    for name, labels, le, n in _buckets(text):
        if name in STALLS:
            out[name][le] += n
        if "generation" in labels:
            out[f"{name}:{labels['generation']}"][le] += n
    for line in text.splitlines():
        if m := _STALL.match(line):
            out["stalled_in"][m["where"]] += float(m["n"])
    return out


def scrape_stalls(client: httpx.Client, urls: list[str]) -> Histograms:
    """``scrape_text`` summed over the servers."""
    out: Histograms = defaultdict(lambda: defaultdict(float))
    for url in urls:
        for name, hist in scrape_text(_get(client, url)).items():
            for le, n in hist.items():
                out[name][le] += n
    return out


def _delta(before: dict[float, float], after: dict[float, float]) -> dict[float, float]:
    return {le: n - before.get(le, 0.0) for le, n in after.items()}


def _under(delta: dict[float, float], p: float) -> float | None:
    """The bucket bound (ms) under which ``p`` % of the window's observations fall; None above the last."""
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        return None
    for le in sorted(delta):
        if delta[le] >= total * p / 100:
            return None if le == float("inf") else round(le * 1000, 1)
    return None


def window(before: Buckets, after: Buckets) -> dict[str, Any]:
    """Per route: requests in the window and the bucket bounds (ms) their p50 and p99 fall under."""
    out: dict[str, Any] = {}
    for key, buckets in after.items():
        delta = _delta(before.get(key, {}), buckets)
        total = delta.get(float("inf"), 0.0)
        if total <= 0:
            continue
        out[f"{key[0]} {key[1]}"] = {"count": int(total), "p50_le_ms": _under(delta, 50), "p99_le_ms": _under(delta, 99)}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["count"]))


def loop_lag(before: Histograms, after: Histograms) -> dict[str, Any]:
    """The event loop's lag over the window (ticks, and the bucket bounds its p99 and max fall under),
    where its thread was while it stalled (samples every 50 ms, the eight commonest places), and the
    GC's pauses (how many, the bound of the longest; and so for each generation, to tell the young
    collections a request's garbage causes from the full ones that walk what lives). Empty for a
    server without the monitor."""
    lag = _delta(before.get("event_loop_lag_seconds", {}), after.get("event_loop_lag_seconds", {}))
    if not lag.get(float("inf")):
        return {}
    gc = _delta(before.get("gc_pause_seconds", {}), after.get("gc_pause_seconds", {}))
    stalled = _delta(before.get("stalled_in", {}), after.get("stalled_in", {}))
    return {"loop_lag_ticks": int(lag[float("inf")]), "loop_lag_p99_le_ms": _under(lag, 99),
            "loop_lag_max_le_ms": _under(lag, 100),
            "gc_pauses": int(gc.get(float("inf"), 0)), "gc_pause_max_le_ms": _under(gc, 100),
            "gc_by_generation": {g: c for g in "012" if (c := _collections(before, after, g))},
            "stalled_in": dict(sorted(((w, int(n)) for w, n in stalled.items() if n > 0), key=lambda kv: -kv[1])[:8])}


def _collections(before: Histograms, after: Histograms, generation: str) -> dict[str, Any]:
    """One generation's collections over the window: how many, the bound of the longest pause, and of
    the most CPU one took (a pause well past its CPU is the process waiting for a core mid-collection);
    empty when it collected none."""
    wall = _delta(before.get(f"gc_pause_seconds:{generation}", {}), after.get(f"gc_pause_seconds:{generation}", {}))
    cpu = _delta(before.get(f"gc_cpu_seconds:{generation}", {}), after.get(f"gc_cpu_seconds:{generation}", {}))
    if not wall.get(float("inf")):
        return {}
    out = {"pauses": int(wall[float("inf")]), "max_le_ms": _under(wall, 100)}
    if cpu.get(float("inf")):
        out["max_cpu_le_ms"] = _under(cpu, 100)
    return out
