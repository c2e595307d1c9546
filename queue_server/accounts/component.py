"""Accounts as a component of the app: its API and pages (log-in, admin, device enrollment), the
per-address limits on logging in and enrolling, and the sweep that closes the sockets of tokens as
they expire."""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from displays.component import HERE as PAGES, PAGE_HEADERS

from ..api.endpoints import Doc
from ..api.ratelimit import RateLimiter
from ..devices.watch import forget_here
from ..record.people import expired_since
from ..supervisor import Supervisor
from .api import api


@dataclass
class Accounts:
    """What accounts keep per process, on ``app.state.accounts``."""
    logins: RateLimiter        # per address: guessing passwords from one place is slow
    enrollments: RateLimiter   # per address: guessing codes likewise
    max_failures: int          # wrong passwords in a row that lock an account
    lock_s: int                # for this long


async def close_expired(app: Starlette, stop: asyncio.Event, every_s: float) -> None:
    """Every ``every_s``, the tokens that expired since the last look are forgotten here and their
    sockets closed (4401): the cache already refuses them, but an open socket is not asked again."""
    pool = app.state.pool
    since: datetime = await pool.fetchval("SELECT now()")
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except asyncio.TimeoutError:
            pass
        hashes, since = await expired_since(pool, since)
        for digest in hashes:
            forget_here(app, digest)


def page(name: str):  # type: ignore[no-untyped-def]
    """A page of displays/ at a path naming no center (the log-in, the admin page, enrollment)."""
    path = PAGES / f"{name}.html"

    async def serve(request: Request) -> Response:
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
    return serve


class AccountsComponent:
    def __init__(self) -> None:
        self.routes: list[BaseRoute] = [*api.routes, Route("/login", page("login")), Route("/admin", page("admin")),
                                        Route("/enroll", page("enroll"))]
        self.docs: list[Doc] = list(api.docs)

    async def start(self, app: Starlette, work: Supervisor) -> None:
        env = os.environ
        per_minute = int(env.get("QUEUE_LOGIN_ATTEMPTS_PER_MINUTE", "10"))
        app.state.accounts = Accounts(
            logins=RateLimiter(per_minute, burst=max(1, per_minute // 2)),
            enrollments=RateLimiter(per_minute, burst=max(1, per_minute // 2)),
            max_failures=int(env.get("QUEUE_LOGIN_MAX_FAILURES", "5")),
            lock_s=int(env.get("QUEUE_LOGIN_LOCK_S", "900")))
        every_s = float(env.get("QUEUE_TOKEN_EXPIRY_SWEEP_S", "5"))
        work.run("token-expiry", lambda: close_expired(app, work.stop, every_s))


component = AccountsComponent()
