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
from locust import User, task

from loadtests.lean_ws import TEXT, LeanWebSocket, client_frame

from .common import TALLY, fire, plan, slot

HEARTBEAT_S = 30.0
SILENCE_S = 45.0          # the server pings after 15 s of silence: three missed pings mean a dead socket
HEARTBEAT = client_frame(TEXT, b'{"type":"heartbeat"}')
_open: set["ScreenUser"] = set()


def label(kind: str, point: str | None) -> str:
    return f"service point {kind}" if point else {"display": "hall display", "screen": "window screen"}.get(kind, kind)


def keepalive() -> None:
    """One greenlet per process, once a second: a heartbeat for every open socket that is due, like
    the page's timer, and the end of every socket silent for ``SILENCE_S`` (what a read timeout per
    socket did, for a timer armed at every read)."""
    while True:
        gevent.sleep(1.0)
        now = time.monotonic()
        for user in list(_open):
            ws = user.ws
            if ws is None:
                continue
            if now - user.heard >= SILENCE_S:
                ws.cut(TimeoutError(f"nothing heard for {SILENCE_S:.0f} s"))
            elif now - user.beat >= HEARTBEAT_S:
                user.beat = now
                try:
                    ws.sock.sendall(HEARTBEAT)   # the same bytes each time: one frame, masked once
                except Exception:  # noqa: BLE001 - the socket's own reader sees the drop
                    pass


class ScreenUser(User):
    abstract = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        p = plan()
        index = slot(environment, "ScreenUser")
        self.device = p.devices[index % len(p.devices)]
        live = p.socket_servers or p.servers
        self.live_server = live[index % len(live)]                      # its socket
        self.label = label(self.device.kind, self.device.point)
        self.ws: LeanWebSocket | None = None
        self.cursor: str | None = None
        self.epoch: str | None = None
        self.beat = time.monotonic() + random.uniform(-HEARTBEAT_S, 0)
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
        _open.add(self)
        self.opening(first)
        try:
            self.ws.settimeout(None)   # silence is ``keepalive``'s to judge
            while True:
                text = self.ws.recv()
                self.heard = time.monotonic()
                self.receive(text)
        except Exception as exc:  # noqa: BLE001 - a drop; the next turn reconnects with the cursor
            fire(self.environment, "WS", "dropped", 0, exc=exc)
        finally:
            self.close()

    def opening(self, msg: dict[str, Any]) -> None:
        if msg.get("type") == "snapshot":
            TALLY.count("resets" if msg.get("reset") else "snapshots")
            self.cursor, self.epoch = msg.get("cursor"), msg.get("epoch")
        elif msg.get("type") == "resume":
            TALLY.count("resumes")
        else:
            self.receive_event(msg)

    def receive(self, text: str) -> None:
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
        if kind == "ticket.called":
            ms = time.time() * 1000 - msg["at"]
            TALLY.call(self.label, ms)   # kept whole for the summary's exact percentiles

    def close(self) -> None:
        if self in _open:
            _open.discard(self)
            TALLY.closed()
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - already gone
                pass
            self.ws = None

    def on_stop(self) -> None:
        self.close()
