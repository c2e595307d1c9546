"""Two instances, two points of one center served by different remote windows: every ticket is
called only by a window assigned to its point, each point's screen gets only its own point's
events, and a point closed through one instance stops taking tickets on the other."""
from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import asyncpg
import httpx
import pytest

from queue_server.config import Settings
from queue_server.record.people import create_token
from tests.realtime.live import open_live, receive
from tests.support import AUTH, server_process

C = "jingansi"
T = f"/api/v1/centers/{C}/tickets"
SERVES = {"r1": "sp1", "r2": "sp3"}     # the demo's all-day assignments (r1: sp1, sp2; r2: sp3, sp4)
N = 200


async def _point_tokens(settings: Settings) -> dict[str, str]:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        return {p: await create_token(pool, "device", C, device_kind="screen", label=f"{p} screen", point=p)
                for p in SERVES.values()}
    finally:
        await pool.close()


async def _read_until(ws: Any, done: Any, got: list[dict[str, Any]], deadline_s: float = 60.0) -> None:
    end = time.monotonic() + deadline_s
    while not done(got):
        assert time.monotonic() < end, f"{len(got)} messages and still waiting"
        got.append(await receive(ws, timeout=max(0.1, end - time.monotonic())))


async def test_each_point_is_served_by_its_own_windows_and_sees_only_its_own_calls(settings: Settings) -> None:
    tokens = await _point_tokens(settings)
    with server_process(settings) as (url_a, _), server_process(settings) as (url_b, _):
        async with httpx.AsyncClient(base_url=url_a, headers=AUTH, timeout=30) as a, \
                httpx.AsyncClient(base_url=url_b, headers=AUTH, timeout=30) as b:
            for i, w in enumerate(SERVES):
                assert (await a.post(f"/api/v1/centers/{C}/windows/{w}/open",
                                     json={"staff_id": f"{C}-s0{i + 1}"})).status_code == 200
            screens = {p: await open_live(url_b if p == "sp1" else url_a, f"/ws/points/{C}-{p}/screen", token=t)
                       for p, t in tokens.items()}
            snaps = {p: await receive(ws) for p, ws in screens.items()}
            assert all(s["type"] == "snapshot" and s["point"]["code"] == p for p, s in snaps.items())
            assert {w["id"] for w in snaps["sp1"]["windows"]} == {"r1"}

            rng = random.Random(10)
            order = [rng.choice(list(SERVES.values())) for _ in range(N)]
            issued = await asyncio.gather(*(
                (a if i % 2 else b).post(T, json={"matter": "hrss-001", "channel": "service_point", "service_point": p})
                for i, p in enumerate(order)))
            assert {r.status_code for r in issued} == {201}
            point_of = {r.json()["id"]: r.json()["service_point"] for r in issued}

            called: dict[str, list[str]] = {w: [] for w in SERVES}

            async def clerk(w: str, client: httpx.AsyncClient) -> None:
                while (r := await client.post(f"/api/v1/centers/{C}/windows/{w}/call-next")).status_code == 200:
                    tid = r.json()["ticket"]["id"]
                    called[w].append(tid)
                    assert (await client.post(f"/api/v1/tickets/{tid}/start")).status_code == 200
                    assert (await client.post(f"/api/v1/tickets/{tid}/finish")).status_code == 200
                assert r.status_code == 204, r.text

            await asyncio.gather(clerk("r1", a), clerk("r2", b))
            assert sorted(called["r1"] + called["r2"]) == sorted(point_of)
            for w, ids in called.items():
                assert {point_of[t] for t in ids} == {SERVES[w]}

            got: dict[str, list[dict[str, Any]]] = {p: [] for p in screens}
            for p, ws in screens.items():
                mine = order.count(p)
                await _read_until(ws, lambda g, mine=mine: sum(m["type"] == "ticket.finished" for m in g) == mine, got[p])
            for p, msgs in got.items():
                tickets = [m for m in msgs if "ticket" in m]
                assert {m["ticket"]["service_point"] for m in tickets} == {p}
                assert sum(m["type"] == "ticket.called" for m in msgs) == order.count(p)
                assert all("current" not in (m.get("window") or {}) for m in msgs)
            print(f"\nrouting race: {order.count('sp1')} tickets at sp1 called by r1 {len(called['r1'])},"
                  f" {order.count('sp3')} at sp3 called by r2 {len(called['r2'])}; calls on the sp1 screen"
                  f" {sum(m['type'] == 'ticket.called' for m in got['sp1'])}, on the sp3 screen"
                  f" {sum(m['type'] == 'ticket.called' for m in got['sp3'])}")

            # A point closed through instance A stops taking tickets on instance B, without a restart.
            r = await a.post(f"/api/v1/centers/{C}/points/sp3/status", json={"status": "closed", "reason": "撤点"})
            assert r.status_code == 200
            closed_at = time.monotonic()
            body = {"matter": "hrss-001", "channel": "service_point", "service_point": "sp3"}
            while (r := await b.post(T, json=body)).status_code == 201:
                assert time.monotonic() - closed_at < 30, "instance B still takes tickets at a closed point"
                await asyncio.sleep(0.02)
            took = time.monotonic() - closed_at
            assert r.status_code == 409 and r.json()["code"] == "point_not_active"
            print(f"a point closed on instance A refused on instance B after {took * 1000:.0f} ms")
            for ws in screens.values():
                await ws.close()


async def test_a_point_socket_refuses_another_points_device_and_unknown_points(settings: Settings) -> None:
    from websockets.exceptions import ConnectionClosed
    tokens = await _point_tokens(settings)
    with server_process(settings) as (url, _):
        for path, token, code in [(f"/ws/points/{C}-sp1/screen", tokens["sp3"], 4403),
                                  (f"/ws/points/{C}-sp1/tablet", tokens["sp1"], 4403),
                                  (f"/ws/points/{C}-sp99/screen", tokens["sp1"], 4404),
                                  (f"/ws/points/{C}-sp1/screen", "nope", 4401),
                                  (f"/ws/centers/{C}/windows/r1/screen", tokens["sp1"], 4403),   # a point's, not the hall's
                                  (f"/ws/centers/{C}/display", tokens["sp1"], 4403)]:
            ws = await open_live(url, path, token=token)
            with pytest.raises(ConnectionClosed) as exc:
                await receive(ws)
            assert exc.value.rcvd is not None and exc.value.rcvd.code == code, path


async def test_a_window_assigned_while_the_points_screen_is_open_shows_on_it_at_once(settings: Settings) -> None:
    """The screen's windows are worked out once per catalog, not per event: a reload with a new
    assignment must still bring the newly assigned window's events to a screen already open."""
    tokens = await _point_tokens(settings)
    w = f"/api/v1/centers/{C}/windows"
    with server_process(settings) as (url, _):
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as client:
            screen = await open_live(url, f"/ws/points/{C}-sp1/screen", token=tokens["sp1"])
            assert {x["id"] for x in (await receive(screen))["windows"]} == {"r1"}
            for window, staff in (("r2", "s02"), ("r1", "s01")):     # r2 serves sp3 and sp4 only
                assert (await client.post(f"{w}/{window}/open", json={"staff_id": f"{C}-{staff}"})).status_code == 200
            assert [(m["type"], m["window"]["id"]) for m in [await receive(screen)]] == [("window.opened", "r1")]

            r = await client.post(f"/api/v1/centers/{C}/assignments",
                                  json={"window": "r2", "point": "sp1", "starts": "00:00", "ends": "24:00"})
            assert r.status_code == 201, r.text
            paused = await client.post(f"{w}/r2/pause", json={"reason": "午休"})
            assert paused.status_code == 200, paused.text
            msg = await receive(screen)
            assert (msg["type"], msg["window"]["id"]) == ("window.paused", "r2")
            assert "current" not in msg["window"]
            await screen.close()
