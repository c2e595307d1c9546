"""Who may open which socket (close codes 4401/4403/4404), what a window's screen and tablet see,
what a client may send, device presence, and the per-address connect limit."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import orjson

from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from queue_server.realtime.endpoints import HEARTBEAT
from tests.realtime.live import C, Api, close_code, open_live, receive, receive_n, silent
from tests.support import server_process

STATIC = Path(__file__).resolve().parents[2] / "displays" / "static"

W1 = f"/ws/centers/{C}/windows/w1"


async def test_close_codes_for_tokens_and_paths(settings: Settings) -> None:
    with server_process(settings) as (url, _):
        async with Api(url) as api:
            display = await api.token("device", device="display")
            other_display = await api.token("device", device="display", center="caojiadu")
            screen_w2 = await api.token("device", window="w2", device="screen")
            staff_w2 = await api.token("staff", window="w2", staff=f"{C}-s02")
            cases = [
                (f"/ws/centers/{C}/display", None, 4401),
                (f"/ws/centers/{C}/display", "not-a-token", 4401),
                (f"/ws/centers/{C}/display", other_display, 4403),
                (f"{W1}/screen", screen_w2, 4403),
                (f"{W1}/screen", display, 4403),
                (f"{W1}/tablet", screen_w2, 4403),
                (f"{W1}/staff", staff_w2, 4403),
                (f"{W1}/staff", display, 4403),
                ("/ws/centers/nowhere/display", display, 4404),
                (f"/ws/centers/{C}/windows/w99/screen", display, 4404),
                ("/ws/tickets/jingansi-20260101-A999", None, 4404),
                ("/ws/tickets/nowhere-20260101-A001", None, 4404),
            ]
            for path, token, code in cases:
                ws = await open_live(url, path, token=token)
                assert await close_code(ws) == code, (path, code)
            for path, token in ((f"/ws/centers/{C}/display", display), (f"/ws/centers/{C}/display", staff_w2),
                                ("/ws/centers/caojiadu/display", other_display),
                                (f"/ws/centers/{C}/windows/w2/screen", screen_w2),
                                (f"/ws/centers/{C}/windows/w2/staff", staff_w2)):
                ws = await open_live(url, path, token=token)
                assert (await receive(ws))["type"] == "snapshot", path
                await ws.close()


async def test_window_screen_and_tablet_see_only_their_window(settings: Settings) -> None:
    with server_process(settings) as (url, _):
        async with Api(url) as api:
            screen = await api.token("device", window="w1", device="screen")
            tablet = await api.token("device", window="w1", device="tablet")
            staff = await api.token("staff", window="w1", staff=f"{C}-s01")
            for w in ("w1", "w2"):
                await api.open_window(w)
            for _ in range(3):
                await api.issue()
            s = await open_live(url, f"{W1}/screen", token=screen)
            t = await open_live(url, f"{W1}/tablet", token=tablet)
            console = await open_live(url, f"{W1}/staff", token=staff)
            snap = await receive(s)
            assert [w["id"] for w in snap["windows"]] == ["w1"] and snap["tickets"] == []
            await receive(t)
            assert len((await receive(console))["tickets"]) == 3

            at_w2 = await api.serve("w2")
            at_w1 = await api.serve("w1")
            await api.http.post(f"/api/v1/centers/{C}/windows/w2/pause", json={"reason": "break"})
            await api.issue()
            for ws in (s, t):
                got = await receive_n(ws, 3)
                assert [(e["type"], e["ticket"]["id"]) for e in got] == [
                    ("ticket.called", at_w1), ("ticket.started", at_w1), ("ticket.finished", at_w1)]
                assert all(e["window"]["id"] == "w1" for e in got)
                assert await silent(ws)
            everything = await receive_n(console, 8)
            assert [e["type"] for e in everything] == ["ticket.called", "ticket.started", "ticket.finished"] * 2 + [
                "window.paused", "ticket.issued"]
            assert everything[0]["ticket"]["id"] == at_w2
            for ws in (s, t, console):
                await ws.close()


def test_the_pages_heartbeat_is_the_one_known_without_parsing() -> None:
    """``listen`` knows a heartbeat by its exact text; the live pages' ``send`` (``JSON.stringify``)
    writes their ``{ type: "heartbeat" }`` so."""
    assert orjson.dumps({"type": "heartbeat"}).decode() == HEARTBEAT
    assert 'this.send({ type: "heartbeat" })' in (STATIC / "live.js").read_text()


async def test_client_messages_heartbeats_and_presence(settings: Settings) -> None:
    with server_process(settings, extra_env={}) as (url, _):
        async with Api(url) as api:
            token = await api.token("device", device="display", label="hall east")
            ws = await open_live(url, f"/ws/centers/{C}/display", token=token)
            await receive(ws)
            await ws.send(HEARTBEAT)
            await ws.send('{"type": "heartbeat"}')   # another spelling: parsed, and a heartbeat all the same
            await ws.send("nonsense")  # ignored
            assert await silent(ws)
            r = redis_client(settings.redis_url)
            try:
                for _ in range(50):
                    seen = await r.hget(Keys(settings.key_prefix).devices(C), "display:-:hall east")
                    if seen:
                        break
                    await asyncio.sleep(0.1)
                assert seen is not None
                record = orjson.loads(seen)
                assert record["online"] is True and record["kind"] == "display" and record["last_seen"] > 0
                await ws.send("x" * 5000)
                assert await close_code(ws) == 1009
                for _ in range(50):
                    record = orjson.loads(await r.hget(Keys(settings.key_prefix).devices(C), "display:-:hall east"))
                    if not record["online"]:
                        break
                    await asyncio.sleep(0.1)
                assert record["online"] is False
            finally:
                await r.aclose()

            ws = await open_live(url, f"/ws/centers/{C}/display", token=token)
            await receive(ws)
            for _ in range(30):
                await ws.send("[1, 2]")
            assert await close_code(ws) == 1008


async def _first(ws) -> str | int | None:  # type: ignore[no-untyped-def]
    """The socket's first message type, or the code it was closed with."""
    try:
        return (await receive(ws, 5))["type"]
    except Exception:  # noqa: BLE001 - closed by the server
        return ws.close_code


async def test_tokenless_attempts_are_rate_limited_per_address_but_never_devices(settings: Settings) -> None:
    """The address's bucket was shared with devices: after a flood, valid screens there got 1013."""
    with server_process(replace(settings, rate_limit_per_minute=5)) as (url, _):
        async with Api(url) as api:
            display = await api.token("device", device="display")
        codes = [await _first(await open_live(url, f"/ws/centers/{C}/display", token=None)) for _ in range(7)]
        assert codes[:5] == [4401] * 5 and codes[5:] == [1013, 1013]
        screens = [await open_live(url, f"/ws/centers/{C}/display", token=display) for _ in range(12)]
        assert [await _first(ws) for ws in screens] == ["snapshot"] * 12
        for ws in screens:
            await ws.close()


async def test_tokenless_sockets_are_capped_per_address(settings: Settings) -> None:
    """A rate let anonymous sockets pile up (239 held open and growing): at most N are open at once."""
    with server_process(settings, extra_env={"QUEUE_WS_ANONYMOUS_PER_ADDRESS": "5"}) as (url, _):
        async with Api(url) as api:
            mine = await api.issue()
            display = await api.token("device", device="display")
        path = f"/ws/tickets/{mine['id']}"
        held = [await open_live(url, path, token=None) for _ in range(5)]
        assert [await _first(ws) for ws in held] == ["position"] * 5
        assert await _first(await open_live(url, path, token=None)) == 1013
        screens = [await open_live(url, f"/ws/centers/{C}/display", token=display) for _ in range(8)]
        assert [await _first(ws) for ws in screens] == ["snapshot"] * 8
        await held.pop().close()
        deadline = asyncio.get_running_loop().time() + 20
        while (code := await _first(again := await open_live(url, path, token=None))) != "position":
            assert code == 1013 and asyncio.get_running_loop().time() < deadline, code
            await asyncio.sleep(0.2)
        for ws in [*held, *screens, again]:
            await ws.close()


async def test_silence_is_broken_by_pings(settings: Settings) -> None:
    with server_process(settings, extra_env={"QUEUE_WS_PING_S": "0.5"}) as (url, _):
        ws = await open_live(url, f"/ws/centers/{C}/display")
        assert (await receive(ws))["type"] == "snapshot"
        ping = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ping["type"] == "ping" and isinstance(ping["now"], int)
        await ws.close()
