"""A sockets process reads the streams of the centers it needs: those with a socket open on it (for a
grace period after the last goes), and all of them once its ops figures are asked for. What must hold:
with no socket it reads nothing; a socket of one center makes it read that center's stream alone,
from before the socket's opening, so every event after the opening reaches the socket once, even
for sockets opening all at once while events are written; the center is dropped after the grace, and
a socket back later resumes with exactly what it missed; the first ask for figures has every center
read and counts the day's events from before it. Faults: Redis losing its data resets a followed
center's sockets and reading goes on; PostgreSQL away at the first ask for figures is a 503 and the
next ask keeps them."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from queue_server.config import Settings
from tests.faults.services import OwnPostgres
from tests.realtime.live import C, Api, close_code, issue_once_rebuilt, lose_recorded_data, open_live, receive, reconcile
from tests.support import AUTH, Services, running_app, server_process

OTHER = "caojiadu"
SOCKETS_ENV = {"QUEUE_TIER": "sockets", "QUEUE_WS_FOLLOW_GRACE_S": "0.5", "QUEUE_WS_EPOCH_CHECK_S": "0.2"}


async def _status(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as http:
        return (await http.get("/api/v1/ops/realtime")).json()


async def _until(check: Callable[[], Any], what: str, deadline_s: float = 10.0) -> Any:
    end = time.monotonic() + deadline_s
    while not (found := await check()):
        assert time.monotonic() < end, what
        await asyncio.sleep(0.05)
    return found


async def _issue_at(api: Api, center: str) -> dict[str, Any]:
    r = await api.http.post(f"/api/v1/centers/{center}/tickets", json={"matter": "hrss-001"})
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_sockets_process_reads_only_the_centers_of_its_sockets(settings: Settings) -> None:
    with server_process(settings) as (http_url, _), \
            server_process(settings, extra_env=SOCKETS_ENV) as (live_url, _):
        async with Api(http_url) as api:
            await _issue_at(api, C)
            await _issue_at(api, OTHER)
            status = await _status(live_url)
            assert status["last_ids"] == {} and status["published"] == 0      # no socket: no stream read

            ws = await open_live(live_url, f"/ws/centers/{C}/display")
            snapshot = await receive(ws)
            assert snapshot["type"] == "snapshot"
            assert set((await _status(live_url))["last_ids"]) == {C}
            await _issue_at(api, OTHER)
            issued = await _issue_at(api, C)
            got = await receive(ws)
            assert got["type"] == "ticket.issued" and got["ticket"]["id"] == issued["id"]
            await reconcile(ws, api, settings, snapshot["cursor"], [got])
            status = await _status(live_url)
            assert set(status["last_ids"]) == {C} and status["published"] == 2   # the other center's never read
            cursor, epoch = got["id"], snapshot["epoch"]
            await ws.close()

            await _until(lambda: _gone(live_url), "the center dropped after the grace")
            missed = [await _issue_at(api, C) for _ in range(3)]
            ws = await open_live(live_url, f"/ws/centers/{C}/display", cursor=cursor, epoch=epoch)
            assert (await receive(ws))["type"] == "resume"
            got = [await receive(ws) for _ in range(4)]    # the marker of the first reconcile, then the three
            assert [e["ticket"]["id"] for e in got[1:]] == [t["id"] for t in missed]
            await reconcile(ws, api, settings, cursor, got)
            await ws.close()


async def _gone(url: str) -> bool:
    return (await _status(url))["last_ids"] == {}


async def test_sockets_opening_together_while_events_are_written_miss_none(settings: Settings) -> None:
    """Forty displays of a center not read yet open at once while tickets are issued one after another:
    each gets, after its opening, every event of the stream once and in order."""
    with server_process(settings) as (http_url, _), \
            server_process(settings, extra_env=SOCKETS_ENV) as (live_url, _):
        async with Api(http_url) as api:
            writing = asyncio.Event()

            async def write() -> None:
                while not writing.is_set():
                    await api.issue()

            writer = asyncio.create_task(write())
            try:
                sockets = await asyncio.gather(*(open_live(live_url, f"/ws/centers/{C}/display") for _ in range(40)))
                snapshots = await asyncio.gather(*(receive(ws) for ws in sockets))
                await asyncio.sleep(0.3)
            finally:
                writing.set()
                await writer
            assert all(s["type"] == "snapshot" for s in snapshots)
            for ws, snapshot in zip(sockets, snapshots):
                await reconcile(ws, api, settings, snapshot["cursor"], [])
                await ws.close()


async def test_the_first_ask_for_figures_reads_every_center_and_counts_what_came_before(settings: Settings) -> None:
    with server_process(settings) as (http_url, _), \
            server_process(settings, extra_env=SOCKETS_ENV) as (live_url, _):
        async with Api(http_url) as api, httpx.AsyncClient(base_url=live_url, headers=AUTH, timeout=20) as live:
            before = [await _issue_at(api, OTHER) for _ in range(2)]
            assert (await _status(live_url))["last_ids"] == {}
            r = await live.get("/api/v1/ops/figures", params={"center": OTHER})
            assert r.status_code == 200, r.text
            assert r.json()["centers"][OTHER]["waiting_total"] == len(before)
            assert {C, OTHER} <= set((await _status(live_url))["last_ids"])
            await _issue_at(api, OTHER)

            async def counted() -> bool:
                r = await live.get("/api/v1/ops/figures", params={"center": OTHER})
                return r.json()["centers"][OTHER]["waiting_total"] == len(before) + 1
            await _until(counted, "a ticket issued after the first ask counted")


async def test_redis_losing_its_data_resets_a_followed_centers_sockets_and_reading_goes_on(settings: Settings) -> None:
    """The epochs of the centers followed are watched as before: their sockets are closed (1012) and
    come back to a fresh snapshot flagged reset, after which events flow again."""
    with server_process(settings) as (http_url, _), \
            server_process(settings, extra_env=SOCKETS_ENV) as (live_url, _):
        async with Api(http_url) as api:
            await _issue_at(api, C)
            ws = await open_live(live_url, f"/ws/centers/{C}/display")
            snapshot = await receive(ws)
            await lose_recorded_data(settings)
            assert await close_code(ws) == 1012
            await issue_once_rebuilt(api)
            ws = await open_live(live_url, f"/ws/centers/{C}/display", cursor=snapshot["cursor"],
                                 epoch=snapshot["epoch"])
            fresh = await receive(ws)
            assert fresh["type"] == "snapshot" and fresh["reset"] is True and fresh["epoch"] != snapshot["epoch"]
            await reconcile(ws, api, settings, fresh["cursor"], [])
            await ws.close()


async def test_the_first_ask_for_figures_with_postgresql_away_is_a_503_and_the_next_keeps_them(
        record: tuple[OwnPostgres, Services]) -> None:
    """The warm-up reads the day's open cases and packages from the record: away, the ask is a 503
    with Retry-After, nothing is kept or held, and the next ask once it is back keeps them."""
    pg, services = record
    settings = services.settings(await services.fresh_database(), tier="sockets")
    async with running_app(settings) as (app, client):
        await asyncio.to_thread(pg.stop)
        try:
            r = await client.get("/api/v1/ops/figures", headers=AUTH)
            assert r.status_code == 503 and r.headers["retry-after"], r.text
            assert not app.state.ops.kept and app.state.ops.feed.take not in app.state.realtime.hub.listeners
        finally:
            await asyncio.to_thread(pg.restart)
        for _ in range(100):
            r = await client.get("/api/v1/ops/figures", headers=AUTH)
            if r.status_code == 200:
                break
            assert r.status_code == 503
            await asyncio.sleep(0.1)
        assert r.status_code == 200 and app.state.ops.kept and C in r.json()["centers"]
