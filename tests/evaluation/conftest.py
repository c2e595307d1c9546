"""Evaluation test plumbing: a fixed Monday-morning clock, the Twilio stand-in on loopback, the app
with fast background loops, a desk that serves tickets through the HTTP API, signed webhook posts,
and a record of every answer body so tests can prove a phone number never leaves the server."""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from evaluation.sms.standin import TwilioStandin, standin_env
from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.record.people import create_token
from tests.support import AUTH, running_app

C = "jingansi"
MONDAY = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)  # Monday 09:00 in Shanghai
PUBLIC = "https://queue.jingan.example"
PHONE = "13812345678"
PHONE_E164 = "+8613812345678"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY)


@pytest.fixture
def standin() -> Iterator[TwilioStandin]:
    s = TwilioStandin()
    with s.serve() as url:
        s.url = url  # type: ignore[attr-defined]
        yield s


def eval_settings(settings: Settings, standin: TwilioStandin | None = None, **extra: str) -> Settings:
    env = {"QUEUE_EVAL_TICK_S": "0.05", "QUEUE_SMS_POLL_S": "0.05",
           "QUEUE_REVIEW_SMS_DELAY_S": "300", "QUEUE_SMS_BACKOFF_S": "10"}
    if standin is not None:
        env.update(standin_env(standin, standin.url))  # type: ignore[attr-defined]
    return replace(settings, public_base_url=PUBLIC, extra={**env, **extra})


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll until ``check`` returns something truthy (background loops run on their own time)."""
    deadline = time.monotonic() + timeout
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.03)


@dataclass
class Desk:
    """Serves tickets through the HTTP API the way windows do, and keeps every answer's body."""
    app: Any
    client: httpx.AsyncClient
    clock: FixedClock
    bodies: list[bytes] = field(default_factory=list)
    opened: set[str] = field(default_factory=set)

    @property
    def pool(self) -> Any:
        return self.app.state.pool

    async def token(self, role: str, window: str | None = None, kind: str | None = None, staff: str | None = None,
                    center: str = C) -> dict[str, str]:
        secret = await create_token(self.pool, role, center, window, staff, kind, "test")
        return {"Authorization": f"Bearer {secret}"}

    async def open(self, window: str, staff: str) -> None:
        r = await self.client.post(f"/api/v1/centers/{C}/windows/{window}/open", json={"staff_id": staff}, headers=AUTH)
        assert r.status_code == 200, r.text
        self.opened.add(window)

    async def serve(self, window: str = "w1", matter: str = "hrss-001", phone: str | None = None,
                    minutes: float = 5) -> dict[str, Any]:
        """Issue a ticket, call it to ``window``, serve it for ``minutes`` and finish it."""
        if window not in self.opened:
            await self.open(window, f"{C}-s{int(window[1:]) if window[0] == 'w' else 9:02d}")
        body: dict[str, Any] = {"matter": matter}
        if phone:
            body["phone"] = phone
        r = await self.client.post(f"/api/v1/centers/{C}/tickets", json=body, headers=AUTH)
        assert r.status_code == 201, r.text
        tid = r.json()["id"]
        r = await self.client.post(f"/api/v1/centers/{C}/windows/{window}/call-next", json={"ticket": tid, "reason": "test"},
                                   headers=AUTH)
        assert r.status_code == 200, r.text
        assert (await self.client.post(f"/api/v1/tickets/{tid}/start", headers=AUTH)).status_code == 200
        self.clock.advance(minutes * 60)
        r = await self.client.post(f"/api/v1/tickets/{tid}/finish", headers=AUTH)
        assert r.status_code == 200, r.text
        return r.json()

    async def rate(self, ticket_id: str, level: int, headers: dict[str, str] | None = None, channel: str = "tablet",
                   reasons: list[str] | None = None, **more: Any) -> httpx.Response:
        body = {"ticket_id": ticket_id, "level": level, "channel": channel, "reasons": reasons or [], **more}
        return await self.client.post("/api/v1/reviews", json=body, headers=headers or {})

    async def sms(self, params: dict[str, str], path: str = "/sms/twilio/inbound", token: str | None = None) -> httpx.Response:
        """A webhook post signed the way Twilio signs it, over the configured public URL."""
        auth = token or self.app.state.evaluation.cfg.twilio_auth_token
        signature = RequestValidator(auth).compute_signature(PUBLIC + path, params)
        return await self.client.post(path, data=params, headers={"X-Twilio-Signature": signature})

    async def events(self, kind: str) -> list[dict[str, Any]]:
        """The center's events of ``kind``, once the ratings recorded so far are announced."""
        import orjson

        await announced(self.app)
        redis = self.app.state.redis
        entries = await redis.xrange(self.app.state.keys.events(C))
        return [orjson.loads(f[b"data"]) for _, f in entries if f[b"type"] == kind.encode()]


async def announced(app: Any) -> None:
    """Until the evaluation's announcer has put every recorded rating on the stream (it runs beside
    the requests, not in them), for up to 2 s: what is then missing, the caller's assertions say."""
    for _ in range(200):
        if not app.state.evaluation.unannounced:
            return
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def desk_for(settings: Settings, clock: FixedClock, run_persister: bool = True) -> AsyncIterator[Desk]:
    async with running_app(settings, clock, run_persister=run_persister) as (app, client):
        desk = Desk(app, client, clock)

        async def keep(response: httpx.Response) -> None:
            await response.aread()
            desk.bodies.append(response.content)

        client.event_hooks["response"].append(keep)
        yield desk


def inbound(body: str, sid: str, number: str = PHONE_E164) -> dict[str, str]:
    return {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": number, "To": "+8610690000", "Body": body,
            "NumMedia": "0"}
