"""Prometheus metrics at ``/metrics``: request latency per route template (a small ASGI wrapper),
queue operations by event type as this instance's reader saw them, live and ops websocket
connections, the persister's stream lag, the SMS outbox, each center's queue, the restarts of the
background tasks, and the event loop's lag and GC pauses (``loop_lag.py``). Each app has its own registry, so several apps in one process (tests) never clash.

The figures a center has (its sockets, its queue, its record's lag: over 1,600 series at the city's
287 centers) are read from their owners as a scrape collects them, not kept in the client library's
labelled gauges, and the text is written off the event loop (``exposition``)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Tally = Callable[[], dict[tuple[str, ...], float]]   # label values -> value, as its owner keeps it


class _Kept(Collector):
    """A figure its owner keeps — a count (the supervisor's restarts, the hub's listener failures) or
    a gauge (the sockets by center, the waiting tickets) — read at each scrape rather than mirrored
    into the client library's own: setting a labelled gauge for each of the city's centers before
    every scrape cost more than writing them out."""

    def __init__(self, family: type[CounterMetricFamily | GaugeMetricFamily], name: str, documentation: str,
                 labels: list[str], read: Tally) -> None:
        self.family, self.name, self.documentation, self.labels, self.read = family, name, documentation, labels, read

    def collect(self) -> Iterator[Metric]:
        family = self.family(self.name, self.documentation, labels=self.labels)
        for values, n in self.read().items():
            family.add_metric(list(values), n)
        yield family


class _Collected(Collector):
    """What a registry yielded, as it was: the text is written from it in a thread, where the state
    the collectors read (the event loop's) may already have changed."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


async def exposition(registry: CollectorRegistry) -> bytes:
    """The text of a scrape. The collectors run on the event loop, whose state they read; the text is
    written in a thread: prometheus_client's formatting of the city's 1,600 series took ~10 ms of a
    process's loop, and in a thread the loop takes the interpreter back at its switch interval (5 ms)
    (loadtests/README.md, "A scrape of /metrics")."""
    return await asyncio.to_thread(generate_latest, _Collected(registry.collect()))


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency by route template",
                                 ["method", "route", "status"], registry=r, buckets=LATENCY_BUCKETS)
        self.events_seen: dict[str, int] = {}   # by type: counted per event, read at a scrape
        self.count_from("queue_operations", "Queue events seen on the centers' streams, by type", ["type"],
                        lambda: {(kind,): n for kind, n in self.events_seen.items()})
        self._latency_by: dict[tuple[str, str, str], Any] = {}

    def count_from(self, name: str, documentation: str, labels: list[str], read: Tally) -> None:
        self.registry.register(_Kept(CounterMetricFamily, name, documentation, labels, read))

    def gauge_from(self, name: str, documentation: str, labels: list[str], read: Tally) -> None:
        self.registry.register(_Kept(GaugeMetricFamily, name, documentation, labels, read))

    def observe_latency(self, method: str, route: str, status: str, seconds: float) -> None:
        """Every request ends here: the labelled child is looked up once per (method, route, status),
        not built from its labels again each time."""
        key = (method, route, status)
        child = self._latency_by.get(key)
        if child is None:
            child = self._latency_by[key] = self.latency.labels(method, route, status)
        child.observe(seconds)

    def count_event(self, kind: str) -> None:
        """Every event of every center's stream, in each sockets process: a plain count (a client
        library counter takes a lock per increment), which the scrape reads."""
        kind = kind or "unknown"
        self.events_seen[kind] = self.events_seen.get(kind, 0) + 1


def route_of(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestTimer:
    """Times each HTTP request from its start to the end of its response body, labelled with the route
    template (``/api/v1/tickets/{id}/{action}``, not the path) so the label set stays small."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.observe_latency(scope["method"], route_of(scope), str(status["code"]),
                                         time.perf_counter() - start)
