"""Prometheus metrics at ``/metrics``: request latency per route template (a small ASGI wrapper),
queue operations by event type as this instance's reader saw them, live and ops websocket
connections, the persister's stream lag, the SMS outbox, each center's queue, the restarts of the
background tasks, and the event loop's lag and GC pauses (``loop_lag.py``). Each app has its own registry, so several apps in one process (tests) never clash."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Tally = Callable[[], dict[tuple[str, ...], int]]   # label values -> count, as its owner keeps it


class _Kept(Collector):
    """A counter its owner keeps (the supervisor's restarts, the hub's listener failures), read at
    each scrape rather than mirrored into a second count."""

    def __init__(self, name: str, documentation: str, labels: list[str], read: Tally) -> None:
        self.name, self.documentation, self.labels, self.read = name, documentation, labels, read

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for values, n in self.read().items():
            family.add_metric(list(values), n)
        yield family


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency by route template",
                                 ["method", "route", "status"], registry=r, buckets=LATENCY_BUCKETS)
        self.events_seen: dict[str, int] = {}   # by type: counted per event, read at a scrape
        self.count_from("queue_operations", "Queue events seen on the centers' streams, by type", ["type"],
                        lambda: {(kind,): n for kind, n in self.events_seen.items()})
        self.sockets = Gauge("websocket_connections", "Open websockets on this instance", ["kind", "center"], registry=r)
        self.lag = Gauge("persister_lag_ms", "How far the PostgreSQL record is behind the center's stream",
                         ["center"], registry=r)
        self.unrecorded = Gauge("persister_unrecorded_events", "Events of the center's stream not yet recorded",
                                ["center", "state"], registry=r)
        self.outbox = Gauge("sms_outbox_messages", "SMS waiting to be sent or being sent", ["state"], registry=r)
        self.waiting = Gauge("queue_waiting_tickets", "Tickets waiting now", ["center"], registry=r)
        self.longest = Gauge("queue_longest_wait_seconds", "Time since the oldest waiting ticket was issued",
                             ["center"], registry=r)
        self._latency_by: dict[tuple[str, str, str], Any] = {}

    def count_from(self, name: str, documentation: str, labels: list[str], read: Tally) -> None:
        self.registry.register(_Kept(name, documentation, labels, read))

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
