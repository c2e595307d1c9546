"""The review tablets' ratings: a tablet's resident rates 60 % of the tickets finished at its window
(the window's own tablet for tickets of the center, the service point's for tickets issued there),
1–5 s after the finish, as they read the tablet and tap.

The rating leaves from the desks' process, the one whose clerk finished the ticket, with the
tablet's own token: the tablets' sockets (``screens.py``) still receive every event they would, but
a request sent and read by a greenlet of a process holding 12,500 sockets waited for that process's
core, and that wait was counted as the server's (city: p99 4.5–5.2 s at the client while the
servers answered within 0.5 s). A real tablet has a core of its own."""
from __future__ import annotations

import random
from typing import Any

import gevent
import orjson

from loadtests.profiles import TABLET_RATES

from .common import kept_alive, plan, timed

LEVELS = [5] * 60 + [4] * 25 + [3] * 10 + [2] * 4 + [1]
RATING_DELAY_S = (1.0, 5.0)   # the resident reads the tablet and taps; the SMS prompt waits 15 s (runner.py)
_tokens: dict[tuple[str, str | None, str | None], str] = {}


def tablet_token(center: str, window: str | None, point: str | None) -> str | None:
    """The token of the tablet at ``window`` of ``center`` (at service point ``point``, if any)."""
    if not _tokens:
        _tokens.update({(d.center, d.window, d.point): d.token for d in plan().devices if d.kind == "tablet"})
    return _tokens.get((center, window, point))


def after_finish(environment: Any, server: str, center: str, ticket: dict[str, Any]) -> None:
    """The ticket just finished: its tablet's resident may rate it, a few seconds from now."""
    token = tablet_token(center, ticket.get("window"), ticket.get("service_point"))
    if token is None or random.random() >= TABLET_RATES:
        return
    level = random.choice(LEVELS)
    body = {"ticket_id": ticket["id"], "level": level, "channel": "tablet"}
    if level <= 2:
        body["reasons"] = [random.choice(["efficiency", "attitude", "process"])]
    gevent.spawn_later(random.uniform(*RATING_DELAY_S), rate, environment, server, token, body)


def rate(environment: Any, server: str, token: str, body: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    timed(environment, "review (tablet)",
          lambda: kept_alive(server).request("POST", "/api/v1/reviews", orjson.dumps(body), headers), (201,),
          server=server)
