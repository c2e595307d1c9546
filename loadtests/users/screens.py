"""Websocket users: hall call displays, window screens and review tablets, in the centers and at the
service points. Each holds its socket for the whole run as the real page does (snapshot, or resume
from its cursor after a drop; a heartbeat every 30 s) and times every call from the moment it was
made (the event's ``at``, on the clock this generator shares with the server) to its arrival.
The tablets' ratings leave from the desks' process (``tablets.py``)."""
from __future__ import annotations

import random
import time
from typing import Any
from urllib.parse import urlencode

import gevent
import orjson
from gevent.core import READ
from gevent.event import AsyncResult
from locust import User, task

from loadtests.lean_ws import LeanWebSocket

from .common import TALLY, fire, plan, slot
from .keepalive import open_by_second
from .messages import CALLED, event_id


def label(kind: str, point: str | None) -> str:
    return f"service point {kind}" if point else {"display": "hall display", "screen": "window screen"}.get(kind, kind)


class ScreenUser(User):
    abstract = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        p = plan()
        index = slot(environment, "ScreenUser")
        self.device = p.devices[index % len(p.devices)]
        self.live_server = p.live_server(self.device.center)            # its socket
        self.label = label(self.device.kind, self.device.point)
        self.ws: LeanWebSocket | None = None
        self.reading: Any = None      # the hub's read watcher on the open socket
        self.cursor: str | None = None
        self.epoch: str | None = None
        self.beat_second = random.randrange(len(open_by_second))
        self.heard = time.monotonic()

    def url(self) -> str:
        query = {"token": self.device.token}
        if self.cursor and self.epoch:
            query.update(cursor=self.cursor, epoch=self.epoch)
        return "ws" + self.live_server[4:] + self.device.path + "?" + urlencode(query)

    @task
    def watch(self) -> None:
        t0 = time.perf_counter()
        try:
            self.ws = LeanWebSocket(self.url(), timeout=10)
            first = orjson.loads(self.ws.recv())
        except Exception as exc:  # noqa: BLE001 - refused, reset or timed out: all count as failures
            fire(self.environment, "WS", "open", (time.perf_counter() - t0) * 1000, exc=exc)
            self.close()
            return
        fire(self.environment, "WS", "open", (time.perf_counter() - t0) * 1000)
        self.heard = time.monotonic()
        TALLY.opened()
        open_by_second[self.beat_second].add(self)
        self.opening(first)
        gone: AsyncResult = AsyncResult()
        self.reading = gevent.get_hub().loop.io(self.ws.fd, READ)
        self.reading.start(self.readable, gone)
        self.readable(gone)   # what came with the first message
        try:
            gone.get()        # silence is ``keepalive``'s to judge
        except Exception as exc:  # noqa: BLE001 - a drop; the next turn reconnects with the cursor
            fire(self.environment, "WS", "dropped", 0, exc=exc)
        finally:
            self.close()

    def readable(self, gone: AsyncResult) -> None:
        """Called back by the hub when the socket has something: every message it brought, handled
        where it lands. A greenlet blocked in ``recv`` per socket cost each message two reads (one
        finding nothing, raising), a switch to the hub and one back: at the city, read here, the
        screens' generators take a fifth less of the cores they share with the servers."""
        try:
            for text in self.ws.arrived():
                self.receive(text)
        except Exception as exc:  # noqa: BLE001 - the connection ended (or a message broke): a drop
            self.reading.stop()
            gone.set_exception(exc)
        else:
            self.heard = time.monotonic()

    def opening(self, msg: dict[str, Any]) -> None:
        if msg.get("type") == "snapshot":
            TALLY.count("resets" if msg.get("reset") else "snapshots")
            self.cursor, self.epoch = msg.get("cursor"), msg.get("epoch")
        elif msg.get("type") == "resume":
            TALLY.count("resumes")
        else:
            self.receive_event(msg)

    def receive(self, text: str) -> None:
        if CALLED not in text and (cursor := event_id(text)) is not None:   # an event that is not a call
            TALLY.count("events")
            self.cursor = cursor
            return
        msg = orjson.loads(text)
        kind = msg.get("type")
        if kind == "ping":
            TALLY.count("pings")
        elif kind in ("snapshot", "resume"):
            self.opening(msg)
        else:
            self.receive_event(msg)

    def receive_event(self, msg: dict[str, Any]) -> None:
        TALLY.count("events")
        self.cursor = msg.get("id") or self.cursor
        kind = msg.get("type")
        if kind == CALLED:
            ms = time.time() * 1000 - msg["at"]
            TALLY.call(self.label, ms)   # kept whole for the summary's exact percentiles

    def close(self) -> None:
        if self.reading is not None:
            self.reading.stop()
            self.reading.close()
            self.reading = None
        if self in open_by_second[self.beat_second]:
            open_by_second[self.beat_second].discard(self)
            TALLY.closed()
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - already gone
                pass
            self.ws = None

    def on_stop(self) -> None:
        self.close()
