"""What ends a video session, in the same script as the cause: a service point's ticket leaving its
remote window (finished, no-show, transferred, paused), the window pausing or closing.
What must hold: each such step puts exactly one session.closed right after its own event, whoever is
connected — an http process with no sockets tier running ends it as well —; what keeps the ticket at
the window (start, recall) and another ticket's end leave the session open; asked again, nothing is
closed twice; a page joining after its session's end was heard is told and closed at once."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, cast

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from queue_server.config import Settings
from queue_server.engine.keys import Keys
from remote_session.relay import Participant
from tests.support import AUTH, running_app

C = "jingansi"
CLERK = f"{C}-s02"


async def _open_r1(client: httpx.AsyncClient) -> None:
    r = await client.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": CLERK}, headers=AUTH)
    assert r.status_code == 200, r.text


async def _called_at_r1(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001", "channel": "service_point",
                                                                "service_point": "sp1"}, headers=AUTH)
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/v1/centers/{C}/windows/r1/call-next", headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()["ticket"]


async def _in_session(app: Any, client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """A point's ticket called at r1 with its video session open (as a page joining would open it)."""
    ticket = await _called_at_r1(client)
    opened = await app.state.remote_sessions.open(C, "r1", ticket["id"], "sp1", "point", app.state.clock.now_ms())
    assert opened["started"] is True
    return ticket, opened["session"]


async def _stream(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    redis = Redis.from_url(settings.redis_url)
    try:
        return [(f[b"type"].decode(), orjson.loads(f[b"data"]))
                for _, f in await redis.xrange(Keys(settings.key_prefix).events(C))]
    finally:
        await redis.aclose()


async def _held(settings: Settings) -> bool:
    redis = Redis.from_url(settings.redis_url)
    try:
        return bool(await redis.exists(Keys(settings.key_prefix).remote_session(C, "r1")))
    finally:
        await redis.aclose()


def _after(events: list[tuple[str, dict[str, Any]]], kind: str) -> list[str]:
    """The types of the events from the last ``kind`` on."""
    last = max(i for i, (k, _) in enumerate(events) if k == kind)
    return [k for k, _ in events[last:]]


@pytest.mark.parametrize("steps, kind, reason", [
    (("start", "finish"), "ticket.finished", "finished"),
    (("no-show",), "ticket.no_show", "no_show"),
    (("start", "pause"), "ticket.paused", "paused"),
])
async def test_the_ticket_leaving_the_window_ends_its_session_in_the_same_step(
        settings: Settings, steps: tuple[str, ...], kind: str, reason: str) -> None:
    """On an http process, which runs no stream reader and holds no socket: nobody else is there to
    close the session."""
    async with running_app(replace(settings, tier="http")) as (app, client):
        await _open_r1(client)
        ticket, session = await _in_session(app, client)
        for action in steps:
            r = await client.post(f"/api/v1/tickets/{ticket['id']}/{action}", headers=AUTH)
            assert r.status_code == 200, (action, r.text)
        events = await _stream(settings)
        assert _after(events, kind) == [kind, "session.closed"]
        closed = events[-1][1]
        assert closed["reason"] == reason and closed["session"]["id"] == session["id"]
        assert closed["ticket"]["id"] == ticket["id"] and closed["window"]["id"] == "r1"
        assert not await _held(settings)


async def test_a_transfer_ends_it_and_what_keeps_the_ticket_at_the_window_does_not(settings: Settings) -> None:
    async with running_app(replace(settings, tier="http")) as (app, client):
        await _open_r1(client)
        ticket, session = await _in_session(app, client)
        for action in ("recall", "start"):
            r = await client.post(f"/api/v1/tickets/{ticket['id']}/{action}", headers=AUTH)
            assert r.status_code == 200, (action, r.text)
        assert [k for k, _ in await _stream(settings) if k.startswith("session.")] == ["session.started"]
        assert await _held(settings)
        r = await client.post(f"/api/v1/tickets/{ticket['id']}/transfer", json={"to_window": "r2"}, headers=AUTH)
        assert r.status_code == 200, r.text
        events = await _stream(settings)
        assert _after(events, "ticket.transferred") == ["ticket.transferred", "session.closed"]
        assert events[-1][1]["reason"] == "transferred" and events[-1][1]["session"]["id"] == session["id"]


@pytest.mark.parametrize("state, reason", [("pause", "window_paused"), ("close", "window_closed")])
async def test_the_window_pausing_or_closing_ends_its_session(settings: Settings, state: str, reason: str) -> None:
    async with running_app(replace(settings, tier="http")) as (app, client):
        await _open_r1(client)
        ticket, session = await _in_session(app, client)
        if state == "close":   # a window closes only once free: its ticket done, the session with it
            for action in ("start", "finish"):
                assert (await client.post(f"/api/v1/tickets/{ticket['id']}/{action}", headers=AUTH)).status_code == 200
            assert not await _held(settings)
            # what a close must still end: a session the window holds though its ticket left (one written
            # back by hand, as a page's open racing the finish could leave until its TTL)
            redis = Redis.from_url(settings.redis_url)
            try:
                await redis.hset(Keys(settings.key_prefix).remote_session(C, "r1"),
                                 mapping={k: str(v) for k, v in session.items()})
            finally:
                await redis.aclose()
        body = {"reason": "break"} if state == "pause" else None
        r = await client.post(f"/api/v1/centers/{C}/windows/r1/{state}", json=body, headers=AUTH)
        assert r.status_code == 200, r.text
        events = await _stream(settings)
        window_kind = "window.paused" if state == "pause" else "window.closed"
        assert _after(events, window_kind) == [window_kind, "session.closed"]
        assert events[-1][1]["reason"] == reason
        assert not await _held(settings)


async def test_another_tickets_end_and_a_hall_ticket_leave_it_and_nothing_closes_twice(settings: Settings) -> None:
    async with running_app(replace(settings, tier="http")) as (app, client):
        await _open_r1(client)
        ticket, session = await _in_session(app, client)
        relay = app.state.remote_sessions
        now = app.state.clock.now_ms()
        assert "kept" in await relay.close(C, "r1", f"{ticket['id']}-other", "hung_up", now)   # not its ticket
        r = await client.post(f"/api/v1/centers/{C}/windows/w1/open", json={"staff_id": f"{C}-s01"}, headers=AUTH)
        assert r.status_code == 200, r.text
        r = await client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}, headers=AUTH)
        assert r.status_code == 201, r.text
        r = await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH)
        assert r.status_code == 200, r.text
        hall = r.json()["ticket"]
        for action in ("start", "finish"):
            assert (await client.post(f"/api/v1/tickets/{hall['id']}/{action}", headers=AUTH)).status_code == 200
        assert await _held(settings)
        assert (await relay.close(C, "r1", ticket["id"], "hung_up", now))["session"]["id"] == session["id"]
        assert await relay.close(C, "r1", ticket["id"], "hung_up", now) == {}
        for action in ("start", "finish"):
            assert (await client.post(f"/api/v1/tickets/{ticket['id']}/{action}", headers=AUTH)).status_code == 200
        closed = [d for k, d in await _stream(settings) if k == "session.closed"]
        assert [d["reason"] for d in closed] == ["hung_up"]


async def test_an_end_heard_before_a_page_joins_still_ends_that_page(settings: Settings) -> None:
    """A page's follow of its center is pinned before its session opens, so the end is read, but the
    reader may hand it over in the turn of the loop before the page's open returns. The page joining
    after that is told and closed at once, not kept in a closed session until the session's TTL."""
    async with running_app(settings) as (app, client):
        relay = app.state.remote_sessions
        await app.state.realtime.reader.follow(C)
        await _open_r1(client)
        ticket, session = await _in_session(app, client)
        early = Participant(cast(Any, None), C, "r1", ticket["id"], session["id"], "window")
        assert relay.join(early)
        assert (await client.post(f"/api/v1/tickets/{ticket['id']}/no-show", headers=AUTH)).status_code == 200
        async with asyncio.timeout(10):
            while early.ended is None:     # the end read and heard by this process
                await asyncio.sleep(0.02)
        late = Participant(cast(Any, None), C, "r1", ticket["id"], session["id"], "point")
        assert not relay.join(late)
        assert late.ended == (1000, "session closed")
        assert [orjson.loads(m) for m in late.outbox] == [{"type": "session.closed", "reason": "no_show"}]
        assert late not in relay.local[session["id"]]   # only the page that joined before the end
