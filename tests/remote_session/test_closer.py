"""The closer asks only where a session may be open. Every sockets instance sees every remote ticket
leave its window, nearly always with no video session open there; a window it knows holds none asks
no script call, and an instance knows at its start which windows hold one. What must hold: nothing
left open that should close — a session started on any instance (session.started on the stream)
makes the window ask again, one open when an instance starts is known to it, and its ticket's end
closes it."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
from redis.asyncio import Redis

from queue_server.config import Settings
from queue_server.engine.keys import Keys
from tests.support import AUTH, running_app

C = "jingansi"
CLERK = f"{C}-s02"


async def _called_at_r1(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001", "channel": "service_point",
                                                                "service_point": "sp1"}, headers=AUTH)
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/v1/centers/{C}/windows/r1/call-next", headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()["ticket"]


async def _finish(client: httpx.AsyncClient, ticket: dict[str, Any]) -> None:
    for action in ("start", "finish"):
        assert (await client.post(f"/api/v1/tickets/{ticket['id']}/{action}", headers=AUTH)).status_code == 200


async def _until(check: Any, what: str, deadline_s: float = 10.0) -> None:
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, what
        await asyncio.sleep(0.02)


async def test_a_window_known_without_session_asks_nothing_until_one_starts(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        relay = app.state.remote_sessions
        assert (await client.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": CLERK},
                                  headers=AUTH)).status_code == 200
        assert (C, "r1") in relay.without_session and (C, "r2") in relay.without_session   # known from the start
        asked = relay.asked
        for _ in range(3):
            await _finish(client, await _called_at_r1(client))
        await asyncio.sleep(0.3)                                  # the reader has seen the finishes
        assert relay.asked == asked

        ticket = await _called_at_r1(client)     # a session opened (as by a page on another instance)
        opened = await relay.open(C, "r1", ticket["id"], "sp1", "point", app.state.clock.now_ms())
        assert opened["started"] is True
        await _until(lambda: (C, "r1") not in relay.without_session, "the session's start seen")
        await _finish(client, ticket)
        await _until(lambda: relay.asked == asked + 1, "the finish asked to close the session")
        kinds = await _session_events(settings)
        assert [k for k, _ in kinds] == ["session.started", "session.closed"]
        assert kinds[1][1]["reason"] == "finished" and kinds[1][1]["session"]["id"] == opened["session"]["id"]
        await _until(lambda: (C, "r1") in relay.without_session, "the window holds none again")


async def test_a_session_open_when_an_instance_starts_is_closed_by_its_tickets_end(settings: Settings) -> None:
    """An instance that starts while a window holds a session (opened through another, or before a
    restart) does not take the window for empty: the ticket's end still closes the session."""
    async with running_app(settings) as (app, client):
        assert (await client.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": CLERK},
                                  headers=AUTH)).status_code == 200
        ticket = await _called_at_r1(client)
        opened = await app.state.remote_sessions.open(C, "r1", ticket["id"], "sp1", "point", app.state.clock.now_ms())
        assert opened["started"] is True
    async with running_app(settings) as (app, client):
        relay = app.state.remote_sessions
        assert (C, "r1") not in relay.without_session and (C, "r2") in relay.without_session
        await _finish(client, ticket)
        await _until(lambda: relay.asked == 1, "the finish asked to close the session")
        kinds = await _session_events(settings)
        assert [k for k, _ in kinds] == ["session.started", "session.closed"]
        assert kinds[1][1]["session"]["id"] == opened["session"]["id"]
        await _until(lambda: (C, "r1") in relay.without_session, "the window holds none again")


async def _session_events(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """The center's session events on its stream, once both the start and the close are there (10 s)."""
    redis = Redis.from_url(settings.redis_url)
    try:
        end = time.monotonic() + 10
        while True:
            entries = await redis.xrange(Keys(settings.key_prefix).events(C))
            kinds = [(f[b"type"].decode(), orjson.loads(f[b"data"])) for _, f in entries
                     if f[b"type"].startswith(b"session.")]
            if len(kinds) >= 2 or time.monotonic() > end:
                return kinds
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
