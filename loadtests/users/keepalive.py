"""The screens' heartbeats and silence watchdog, one greenlet per generator process (the page's timer
and a read timeout, without a timer per socket). Apart from ``screens.py`` so that it is tested
without Locust (whose import patches the test process for gevent)."""
from __future__ import annotations

import itertools
import time
from typing import Any

import gevent

from loadtests.lean_ws import TEXT, client_frame

HEARTBEAT_S = 30.0
SILENCE_S = 45.0          # the server pings after 15 s of silence: three missed pings mean a dead socket
HEARTBEAT = client_frame(TEXT, b'{"type":"heartbeat"}')
open_by_second: list[set[Any]] = [set() for _ in range(int(HEARTBEAT_S))]   # by the second of its heartbeat


def keepalive() -> None:
    """One greenlet per process, once a second, for the open sockets whose second of the heartbeat
    period it is (each socket's is drawn at random when it opens): a heartbeat, like the page's
    timer, or the end of the socket when it has been silent for ``SILENCE_S`` (what a read timeout
    per socket did, for a timer armed at every read) — found 45–75 s into the silence. Looking at
    every socket every second was a sixth of a screens generator's CPU at city size."""
    for tick in itertools.count():
        gevent.sleep(1.0)
        beat(list(open_by_second[tick % len(open_by_second)]), time.monotonic())


def beat(share: list[Any], now: float) -> None:
    """One second's share of the open sockets (users with ``ws`` and ``heard``): each heartbeats, or
    is cut when silent too long."""
    for user in share:
        ws = user.ws
        if ws is None:
            continue
        if now - user.heard >= SILENCE_S:
            ws.cut(TimeoutError(f"nothing heard for {SILENCE_S:.0f} s"))
            continue
        try:
            ws.post(HEARTBEAT)   # the same bytes each time: one frame, masked once
        except Exception:  # noqa: BLE001 - the socket's own reader sees the drop
            pass
