"""The signaling of a video session over real websockets, across two server instances: the clerk of
the remote window on one, the point's screen on the other. What must hold: only those two join, what
each sends reaches the other (and nobody else), a bad message is refused without harm, and the
ticket leaving the window closes both with one session.closed event, recorded in PostgreSQL."""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import asyncpg
import httpx
import orjson
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from queue_server.config import Settings
from queue_server.engine.keys import Keys
from queue_server.record.people import create_token, token_hash
from tests.realtime.live import close_code, open_live, receive, silent
from tests.support import AUTH, server_process

C = "jingansi"
CLERK = f"{C}-s02"


async def _tokens(settings: Settings) -> dict[str, str]:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        return {
            "clerk": await create_token(pool, "staff", C, window="r1", staff_id=CLERK, label="r1 clerk"),
            "other_clerk": await create_token(pool, "staff", C, window="r2", staff_id=f"{C}-s03", label="r2 clerk"),
            "sp1": await create_token(pool, "device", C, device_kind="screen", label="sp1 screen", point="sp1"),
            "sp3": await create_token(pool, "device", C, device_kind="screen", label="sp3 screen", point="sp3"),
            "hall": await create_token(pool, "device", C, device_kind="display", label="hall display"),
        }
    finally:
        await pool.close()


async def _called_at_r1(http: httpx.AsyncClient) -> dict[str, Any]:
    assert (await http.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": CLERK})).status_code == 200
    r = await http.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001", "channel": "service_point",
                                                              "service_point": "sp1"})
    assert r.status_code == 201, r.text
    r = await http.post(f"/api/v1/centers/{C}/windows/r1/call-next")
    assert r.status_code == 200, r.text
    return r.json()["ticket"]


async def _next(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next message of ``kind``, skipping pings."""
    while (msg := await receive(ws))["type"] != kind:
        pass
    return msg


async def _session_events(settings: Settings, at_least: int = 1, deadline_s: float = 10.0) -> list[dict[str, Any]]:
    """The session events on the center's stream, once there are ``at_least``."""
    r = Redis.from_url(settings.redis_url)
    end = time.monotonic() + deadline_s
    try:
        while True:
            entries = await r.xrange(Keys(settings.key_prefix).events(C))
            events = [orjson.loads(f[b"data"]) for _, f in entries if f[b"type"].startswith(b"session.")]
            if len(events) >= at_least or time.monotonic() > end:
                return events
            await asyncio.sleep(0.05)
    finally:
        await r.aclose()


async def test_signaling_is_relayed_between_two_instances_and_the_finish_closes_both(settings: Settings) -> None:
    tokens = await _tokens(settings)
    with server_process(settings) as (url_a, _), server_process(settings) as (url_b, _):
        async with httpx.AsyncClient(base_url=url_a, headers=AUTH, timeout=30) as http:
            ticket = await _called_at_r1(http)
            path = f"/ws/sessions/{ticket['id']}"

            # nobody else joins: no token, another point's device, another window's clerk, the hall, a bad id
            for base, token, code in ((url_a, None, 4401), (url_b, "not-a-token", 4401), (url_a, tokens["sp3"], 4403),
                                      (url_b, tokens["other_clerk"], 4403), (url_a, tokens["hall"], 4403)):
                assert await close_code(await open_live(base, path, token=token)) == code, (token, code)
            assert await close_code(await open_live(url_a, f"/ws/sessions/{C}-20260101-Z999", token=tokens["clerk"])) == 4409
            assert await close_code(await open_live(url_a, "/ws/sessions/nowhere-1", token=tokens["clerk"])) == 4404

            other_point = await open_live(url_b, f"/ws/points/{C}-sp3/screen", token=tokens["sp3"])
            assert (await receive(other_point))["type"] == "snapshot"
            clerk = await open_live(url_a, path, token=tokens["clerk"])
            joined = await _next(clerk, "joined")
            assert joined["role"] == "window" and joined["session"]["ticket"] == ticket["id"]
            assert joined["ice_servers"] == []
            point = await open_live(url_b, path, token=tokens["sp1"])
            me = (await _next(point, "joined"))["me"]
            arrived = await _next(clerk, "peer.joined")
            assert (arrived["from"], arrived["role"]) == (me, "point")
            assert (await _next(point, "peer.present"))["from"] == joined["me"]
            assert joined["session"]["id"] == (await _session_events(settings))[0]["session"]["id"]

            await clerk.send(orjson.dumps({"type": "offer", "to": me, "sdp": "v=0 offer"}).decode())
            offer = await _next(point, "offer")
            assert (offer["sdp"], offer["from"], offer["role"]) == ("v=0 offer", joined["me"], "window")
            await point.send(orjson.dumps({"type": "answer", "to": joined["me"], "sdp": "v=0 answer"}).decode())
            assert (await _next(clerk, "answer"))["sdp"] == "v=0 answer"
            candidate = {"candidate": "candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host", "sdpMid": "0",
                         "sdpMLineIndex": 0}
            await point.send(orjson.dumps({"type": "ice", "to": joined["me"], "candidate": candidate}).decode())
            assert (await _next(clerk, "ice"))["candidate"]["candidate"] == candidate["candidate"]
            await point.send(orjson.dumps({"type": "chat", "text": "您好 hello"}).decode())
            assert (await _next(clerk, "chat"))["text"] == "您好 hello"

            # refused without harm: a malformed message and an unknown type get an error, the session goes on
            await clerk.send('{"type": "offer", "to": "x", "sdp": 1}')
            assert "malformed" in (await _next(clerk, "error"))["detail"]
            await clerk.send('{"type": "shout"}')
            await _next(clerk, "error")
            await point.send(orjson.dumps({"type": "hangup"}).decode())
            assert "clerk" in (await _next(point, "error"))["detail"]
            await clerk.send(orjson.dumps({"type": "media", "audio": True, "video": False}).decode())
            assert (await _next(point, "media"))["video"] is False
            assert await silent(clerk, 0.3)   # nothing it sent came back to it

            # a second instance's pages and the record see one start and one end
            assert (await http.post(f"/api/v1/tickets/{ticket['id']}/start")).status_code == 200
            assert (await http.post(f"/api/v1/tickets/{ticket['id']}/finish")).status_code == 200
            for ws in (clerk, point):
                assert (await _next(ws, "session.closed"))["reason"] == "finished"
                assert await close_code(ws) == 1000
            events = await _session_events(settings, 2)
            assert [e["type"] for e in events] == ["session.started", "session.closed"]
            assert events[1]["reason"] == "finished" and events[1]["session"]["id"] == joined["session"]["id"]

            # another point's screen heard nothing of it: not the session's events, not its ticket
            others = []
            with contextlib.suppress(asyncio.TimeoutError):
                while True:
                    others.append(await receive(other_point, 0.5))
            assert not [m for m in others if m["type"].startswith("session.") or "ticket" in m], others

            # the ticket has left the window: nobody may join its session now
            assert await close_code(await open_live(url_b, path, token=tokens["sp1"])) == 4409
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        for _ in range(100):
            rows = await pool.fetch("SELECT type, ticket_id, window_code FROM events WHERE type LIKE 'session.%'"
                                    " ORDER BY stream_ms, stream_seq")
            if len(rows) == 2:
                break
            await asyncio.sleep(0.1)
        assert [tuple(r) for r in rows] == [("session.started", ticket["id"], "r1"), ("session.closed", ticket["id"], "r1")]
    finally:
        await pool.close()


async def test_a_page_alone_on_a_sockets_process_hears_its_session_end(settings: Settings) -> None:
    """A sockets process reads only the centers of its sockets: a session's page has its center read
    for as long as it is there, so the finish on the http process reaches it."""
    tokens = await _tokens(settings)
    with server_process(settings, extra_env={"QUEUE_TIER": "http"}) as (http_url, _), \
            server_process(settings, extra_env={"QUEUE_TIER": "sockets"}) as (live_url, _):
        async with httpx.AsyncClient(base_url=http_url, headers=AUTH, timeout=30) as http:
            ticket = await _called_at_r1(http)
            clerk = await open_live(live_url, f"/ws/sessions/{ticket['id']}", token=tokens["clerk"])
            await _next(clerk, "joined")
            for action in ("start", "finish"):
                assert (await http.post(f"/api/v1/tickets/{ticket['id']}/{action}")).status_code == 200
            assert (await _next(clerk, "session.closed"))["reason"] == "finished"
            assert await close_code(clerk) == 1000


async def test_too_big_a_message_closes_the_socket_and_a_pause_or_a_transfer_closes_the_session(settings: Settings) -> None:
    tokens = await _tokens(settings)
    with server_process(settings) as (url, _):
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as http:
            ticket = await _called_at_r1(http)
            path = f"/ws/sessions/{ticket['id']}"
            big = await open_live(url, path, token=tokens["sp1"])
            await _next(big, "joined")
            await big.send(orjson.dumps({"type": "chat", "text": "x" * 70_000}).decode())
            assert await close_code(big) == 1009
            clerk = await open_live(url, path, token=tokens["clerk"])
            point = await open_live(url, path, token=tokens["sp1"])
            await _next(clerk, "joined")
            await _next(point, "joined")
            assert (await http.post(f"/api/v1/centers/{C}/windows/r1/pause", json={"reason": "午休"})).status_code == 200
            for ws in (clerk, point):
                assert (await _next(ws, "session.closed"))["reason"] == "window_paused"
                assert await close_code(ws) == 1000
            assert [e["type"] for e in await _session_events(settings, 2)] == ["session.started", "session.closed"]

            # open again, the ticket still called there: a new session, which the transfer ends
            assert (await http.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": CLERK})).status_code == 200
            clerk = await open_live(url, path, token=tokens["clerk"])
            second = (await _next(clerk, "joined"))["session"]["id"]
            r = await http.post(f"/api/v1/tickets/{ticket['id']}/transfer", json={"to_queue": ticket["queue"]})
            assert r.status_code == 200, r.text
            assert (await _next(clerk, "session.closed"))["reason"] == "transferred"
            events = await _session_events(settings, 4)
            assert [e["type"] for e in events] == ["session.started", "session.closed"] * 2
            assert events[2]["session"]["id"] == second != events[0]["session"]["id"]


async def test_pages_joining_at_once_on_two_instances_open_one_session(settings: Settings) -> None:
    """Ten clerk consoles and ten point pages join together, half on each instance: one session.started,
    every page in the same session; two instances both seeing the no-show: one session.closed."""
    tokens = await _tokens(settings)
    with server_process(settings) as (url_a, _), server_process(settings) as (url_b, _):
        async with httpx.AsyncClient(base_url=url_a, headers=AUTH, timeout=30) as http:
            ticket = await _called_at_r1(http)
            path = f"/ws/sessions/{ticket['id']}"
            pages = await asyncio.gather(*(open_live(url_a if i % 2 else url_b, path,
                                                     token=tokens["clerk" if i % 4 < 2 else "sp1"]) for i in range(20)))
            joined = [await _next(ws, "joined") for ws in pages]
            assert len({j["session"]["id"] for j in joined}) == 1
            assert len({j["me"] for j in joined}) == 20
            assert [e["type"] for e in await _session_events(settings)] == ["session.started"]
            assert (await http.post(f"/api/v1/tickets/{ticket['id']}/no-show")).status_code == 200
            for ws in pages:
                assert (await _next(ws, "session.closed"))["reason"] == "no_show"
                assert await close_code(ws) == 1000
            events = await _session_events(settings, 2)
            assert [e["type"] for e in events] == ["session.started", "session.closed"]


async def test_a_revoked_device_leaves_the_session_on_every_instance(settings: Settings) -> None:
    tokens = await _tokens(settings)
    with server_process(settings) as (url_a, _), server_process(settings) as (url_b, _):
        async with httpx.AsyncClient(base_url=url_a, headers=AUTH, timeout=30) as http:
            ticket = await _called_at_r1(http)
            path = f"/ws/sessions/{ticket['id']}"
            clerk = await open_live(url_a, path, token=tokens["clerk"])
            point = await open_live(url_b, path, token=tokens["sp1"])
            await _next(clerk, "joined")
            me = (await _next(point, "joined"))["me"]
            device = f"dv_{token_hash(tokens['sp1'])[:16]}"     # the device create_token registered for it
            assert (await http.post(f"/api/v1/devices/{device}/revoke")).status_code == 204
            assert await close_code(point) == 4401
            assert (await _next(clerk, "peer.left"))["from"] == me
            assert await close_code(await open_live(url_b, path, token=tokens["sp1"])) == 4401


async def test_refused_messages_and_the_rate_limit_never_break_the_session_until_abuse(settings: Settings) -> None:
    """Junk of every kind answers an error each and the relay goes on; past the rate an error too;
    after twenty refused the socket is closed (1008). The clerk's hang-up ends the session for both."""
    tokens = await _tokens(settings)
    with server_process(settings, extra_env={"QUEUE_RTC_PER_MINUTE": "60", "QUEUE_RTC_BURST": "30"}) as (url, _):
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as http:
            ticket = await _called_at_r1(http)
            path = f"/ws/sessions/{ticket['id']}"
            clerk = await open_live(url, path, token=tokens["clerk"])
            point = await open_live(url, path, token=tokens["sp1"])
            await _next(clerk, "joined")
            me = (await _next(point, "joined"))["me"]
            junk = ["not json", b"\x00\x01binary", "[]", "null", '{"type": "chat"}', '{"type": "chat", "text": ""}',
                    '{"type": "chat", "text": "hi", "extra": 1}', '{"type": "offer", "to": "' + me + '"}',
                    '{"type": "ice", "to": "' + me + '", "candidate": {"candidate": 5}}',
                    '{"type": "ice", "to": "' + me + '", "candidate": {"candidate": "", "sdpMLineIndex": -1}}',
                    '{"type": "media", "audio": "yes", "video": true}', '{"type": "peer.joined"}',
                    '{"type": "session.closed"}', '{"type": "chat", "text": "' + "长" * 501 + '"}']
            for message in junk:
                await clerk.send(message)
                assert (await _next(clerk, "error"))["detail"], message
            await clerk.send(orjson.dumps({"type": "chat", "text": "仍然可用 still fine"}).decode())
            assert (await _next(point, "chat"))["text"] == "仍然可用 still fine"
            assert await silent(point, 0.3)          # none of the junk reached the other side
            for _ in range(30):                      # over the burst: refused, counted, then closed
                await clerk.send(orjson.dumps({"type": "chat", "text": "快 fast"}).decode())
            assert await close_code(clerk) == 1008
            clerk = await open_live(url, path, token=tokens["clerk"])   # a new page of the clerk's: same session
            await _next(clerk, "joined")
            await clerk.send('{"type": "hangup"}')
            for ws in (clerk, point):
                assert (await _next(ws, "session.closed"))["reason"] == "hung_up"
                assert await close_code(ws) == 1000
            assert (await http.get(f"/api/v1/tickets/{ticket['id']}")).json()["status"] == "called"   # still served
            assert [e["type"] for e in await _session_events(settings, 2)] == ["session.started", "session.closed"]


async def test_a_page_joining_as_its_ticket_leaves_is_refused_or_closed_never_left_open(settings: Settings) -> None:
    """A clerk's console opening in the instant its ticket is marked a no-show, twenty times, the
    no-show sent 0–19 ms after the page starts to open: whichever comes first, the page is refused
    (4409) or joins and hears the end (session.closed, then 1000) — never left in a closed session."""
    tokens = await _tokens(settings)
    with server_process(settings) as (url, _):
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as http:
            assert (await http.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": CLERK})).status_code == 200

            async def page(ticket_id: str) -> tuple[list[str], int | None]:
                ws = await open_live(url, f"/ws/sessions/{ticket_id}", token=tokens["clerk"])
                heard: list[str] = []
                try:
                    while True:
                        heard.append(orjson.loads(await asyncio.wait_for(ws.recv(), 5.0))["type"])
                except ConnectionClosed as exc:
                    return heard, exc.rcvd.code if exc.rcvd else None
                except asyncio.TimeoutError:
                    return heard, None   # still open 5 s after its ticket left

            async def no_show(ticket_id: str, after_s: float) -> None:
                await asyncio.sleep(after_s)
                assert (await http.post(f"/api/v1/tickets/{ticket_id}/no-show")).status_code == 200

            for i in range(20):
                r = await http.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001", "channel": "service_point",
                                                                          "service_point": "sp1"})
                assert r.status_code == 201, r.text
                r = await http.post(f"/api/v1/centers/{C}/windows/r1/call-next")
                assert r.status_code == 200, r.text
                ticket_id = r.json()["ticket"]["id"]
                (heard, code), _ = await asyncio.gather(page(ticket_id), no_show(ticket_id, i / 1000))
                assert code == 4409 or (code == 1000 and heard[-1:] == ["session.closed"]), (i, heard, code)
