"""The tiers (QUEUE_TIER): an http process answers the API and runs the record's consumers but reads no
stream and holds no socket; a sockets process serves the live sockets and the figures and runs no
consumer; the api and background tiers split the http tier's two jobs; each answers the others' routes
clearly (421 problem+json, close 4421); and together, as separate real processes, they are the whole
server: a ticket issued on one reaches a screen on another, and every event is recorded and taken by
every consumer group, none left pending."""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from queue_server.config import Settings
from queue_server.embedded import free_port
from queue_server.record.personal import DEMO_KEY
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from queue_server.clock import FixedClock
from queue_server.tiers import MISDIRECTED
from tests.evaluation.conftest import MONDAY, desk_for, eval_settings, eventually
from tests.realtime.live import C, Api, close_code, open_live, receive
from tests.support import ADMIN_TOKEN, AUTH, ROOT, running_app, server_process

RECORD_WORK = {"persister", "evaluation-retired-group", "resident-notices", "number reserve", "device-watch"}
SOCKET_WORK = {"realtime-reader", "realtime-sweeper", "ops-feed", "ops-broadcaster", "session-signals"}


def test_an_unknown_tier_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_TIER", "both")
    with pytest.raises(ValueError, match="QUEUE_TIER must be one of all, http, sockets"):
        Settings.from_env()


def test_each_tier_holds_its_share_of_postgresql_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """The http tier carries every request's statement (at the city's peak the tablets' ratings queued
    for 20 connections until they timed out); the sockets tier needs a few."""
    for tier, size in (("all", 20), ("http", 40), ("sockets", 5), ("api", 40), ("background", 10)):
        monkeypatch.setenv("QUEUE_TIER", tier)
        assert Settings.from_env().db_pool_size == size
    monkeypatch.setenv("QUEUE_DB_POOL_MAX", "12")
    assert Settings.from_env().db_pool_size == 12
    monkeypatch.setenv("QUEUE_DB_POOL_MAX", "0")
    with pytest.raises(ValueError, match="QUEUE_DB_POOL_MAX must be a whole number"):
        Settings.from_env()


async def test_http_tier_answers_the_api_and_reads_no_stream(settings: Settings) -> None:
    async with running_app(replace(settings, tier="http")) as (app, client):
        assert app.state.pool.get_max_size() == 40
        tasks = set(app.state.supervisor.tasks)
        assert RECORD_WORK <= tasks and not SOCKET_WORK & tasks
        assert app.state.realtime.hub.listeners == []          # nothing applied per event here
        r = await client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}, headers=AUTH)
        assert r.status_code == 201, r.text
        assert "loop-lag" in tasks
        for path in ("/readyz", "/metrics", "/openapi.json"):
            assert (await client.get(path, headers=AUTH)).status_code == 200, path
        r = await client.get("/api/v1/ops/figures", headers=AUTH)
        assert r.status_code == 421 and r.headers["content-type"] == "application/problem+json"
        assert "sockets tier" in r.json()["detail"]


async def test_http_tier_knows_the_tickets_it_recorded_as_served(settings: Settings) -> None:
    """No hub tells the http tier of finishes: recording them as served does, so a tablet's rating
    seconds later finds the served ticket in memory, as in a process of every tier."""
    async with running_app(replace(settings, tier="http")) as (app, client):
        assert (await client.post(f"/api/v1/centers/{C}/windows/w1/open", json={"staff_id": f"{C}-s01"},
                                  headers=AUTH)).status_code == 200
        issued = (await client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}, headers=AUTH)).json()
        assert (await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH)).status_code == 200
        for action in ("start", "finish"):
            assert (await client.post(f"/api/v1/tickets/{issued['id']}/{action}", headers=AUTH)).status_code == 200
        deadline = time.monotonic() + 10
        while app.state.evaluation.recent.get(issued["id"]) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        served = app.state.evaluation.recent.get(issued["id"])
        assert served is not None and (served.center, served.window, served.staff_id) == (C, "w1", f"{C}-s01")


async def test_sockets_tier_serves_live_state_and_refuses_the_api(settings: Settings) -> None:
    async with running_app(replace(settings, tier="sockets")) as (app, client):
        tasks = set(app.state.supervisor.tasks)
        assert SOCKET_WORK <= tasks and not RECORD_WORK & tasks
        for method, path in (("POST", f"/api/v1/centers/{C}/tickets"), ("GET", f"/api/v1/centers/{C}/queue"),
                             ("GET", f"/display/{C}"), ("GET", "/assets/i18n.js")):
            r = await client.request(method, path, headers=AUTH, json={"matter": "hrss-001"})
            assert r.status_code == 421, (path, r.status_code)
            assert r.headers["content-type"] == "application/problem+json" and "http tier" in r.json()["detail"]
        assert (await client.get("/nowhere", headers=AUTH)).status_code == 404   # not another tier's: unknown
        for path in ("/readyz", "/metrics", "/api/v1/ops/figures", "/api/v1/ops/realtime"):
            assert (await client.get(path, headers=AUTH)).status_code == 200, path


async def test_api_and_background_tiers_split_the_http_tiers_work(settings: Settings) -> None:
    """The api tier answers the API and runs none of the background work; the background tier runs it
    all and answers no route of the API or the sockets. Side by side they do what one http process
    does: the ticket served on the api process is recorded by the background one, whose evaluation
    consumer's record lets the window's tablet rate it on the api process, in one statement."""
    ev_settings, clock = eval_settings(settings), FixedClock(MONDAY)
    async with desk_for(replace(ev_settings, tier="api"), clock) as desk, \
            running_app(replace(ev_settings, tier="background"), clock) as (background, behind):
        api_tasks, background_tasks = set(desk.app.state.supervisor.tasks), set(background.state.supervisor.tasks)
        assert not (RECORD_WORK | SOCKET_WORK) & api_tasks and "evaluation-announcer" in api_tasks
        assert RECORD_WORK <= background_tasks and not SOCKET_WORK & background_tasks
        assert background.state.pool.get_max_size() == 10 and background.state.realtime.hub.listeners == []
        for method, path, tier in (("POST", f"/api/v1/centers/{C}/tickets", "http"), ("GET", f"/display/{C}", "http"),
                                   ("GET", "/api/v1/ops/figures", "sockets")):
            r = await behind.request(method, path, headers=AUTH, json={"matter": "hrss-001"})
            assert r.status_code == 421 and r.headers["content-type"] == "application/problem+json", (path, r.text)
            assert f"{tier} tier" in r.json()["detail"] and "QUEUE_TIER=background" in r.json()["detail"]
        for path in ("/readyz", "/metrics"):
            assert (await behind.get(path, headers=AUTH)).status_code == 200, path

        t = await desk.serve("w3", matter="mi-001")
        await eventually(lambda: desk.pool.fetchval("SELECT 1 FROM tickets WHERE id = $1 AND status = 'finished'",
                                                    t["id"]), what="the ticket recorded by the background process")
        await eventually(lambda: desk.pool.fetchval("SELECT 1 FROM eval_served WHERE ticket_id = $1", t["id"]),
                         what="the served ticket recorded by the background process")
        assert desk.app.state.evaluation.recent.get(t["id"]) is None   # nothing told the api process
        r = await desk.rate(t["id"], 5, await desk.token("device", "w3", "tablet"))
        assert r.status_code == 201, r.text
        assert (r.json()["window"], r.json()["staff_id"]) == ("w3", f"{C}-s03")
        assert [e["review"]["level"] for e in await desk.events("review.recorded")] == [5]


def test_a_background_process_yields_the_cpu(settings: Settings) -> None:
    """``queue-server serve --tier background`` runs QUEUE_BACKGROUND_NICE steps lower than it was
    started, and answers only what every process does."""
    started_at = os.getpriority(os.PRIO_PROCESS, 0)
    with serving(settings, "background", QUEUE_BACKGROUND_NICE="3") as (client, proc):
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == min(19, started_at + 3)
        assert os.sched_getscheduler(proc.pid) == os.SCHED_BATCH   # woken, it does not take a running one's core
        assert client.get(f"/api/v1/centers/{C}/queue").status_code == 421
        assert "persister" in supervised(client.get("/metrics").text)


def test_a_sockets_process_yields_the_cpu_to_operations(settings: Settings) -> None:
    """``queue-server serve --tier sockets`` runs QUEUE_SOCKETS_NICE steps lower and as a batch process;
    an api process as started; 0 steps keeps a sockets process as started too."""
    started_at = os.getpriority(os.PRIO_PROCESS, 0)
    with serving(settings, "sockets", QUEUE_SOCKETS_NICE="1") as (_, proc):
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == min(19, started_at + 1)
        assert os.sched_getscheduler(proc.pid) == os.SCHED_BATCH
    with serving(settings, "api", QUEUE_SOCKETS_NICE="1", QUEUE_BACKGROUND_NICE="3") as (_, proc):
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == started_at
        assert os.sched_getscheduler(proc.pid) == os.SCHED_OTHER
    with serving(settings, "sockets", QUEUE_SOCKETS_NICE="0") as (_, proc):
        assert (os.getpriority(os.PRIO_PROCESS, proc.pid), os.sched_getscheduler(proc.pid)) == (started_at, os.SCHED_OTHER)


def test_serve_takes_its_tier_from_the_flag(settings: Settings) -> None:
    """``queue-server serve --tier`` wins over QUEUE_TIER in the environment (its workers read that)."""
    with serving(settings, "sockets", QUEUE_TIER="all") as (client, _):
        assert client.get(f"/api/v1/centers/{C}/queue").status_code == 421
        assert client.get("/api/v1/ops/realtime").status_code == 200


@contextlib.contextmanager
def serving(settings: Settings, tier: str, **env: str) -> Iterator[tuple[httpx.Client, subprocess.Popen]]:
    """``queue-server serve --tier`` on this test's services and keys, once it answers /readyz."""
    port = free_port()
    env = {**os.environ, "REDIS_URL": settings.redis_url or "", "DATABASE_URL": settings.database_url or "",
           "QUEUE_KEY_PREFIX": settings.key_prefix, "QUEUE_ADMIN_TOKEN": ADMIN_TOKEN,
           "QUEUE_PERSONAL_DATA_KEY": DEMO_KEY, **env}
    proc = subprocess.Popen([sys.executable, "-m", "queue_server", "serve", "--port", str(port), "--tier", tier],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=5) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "the server did not become ready"
                time.sleep(0.2)
            yield client, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=60)


def supervised(metrics: str) -> set[str]:
    """The background tasks a process runs, as its /metrics names them."""
    return set(re.findall(r'^background_task_restarts_total\{task="([^"]+)"\}', metrics, re.M))


async def test_two_tiers_are_the_whole_server(settings: Settings) -> None:
    sockets_env = {"QUEUE_TIER": "sockets"}
    with server_process(settings, extra_env={"QUEUE_TIER": "http"}) as (http_url, _), \
            server_process(settings, extra_env=sockets_env) as (sockets_url, _):
        async with Api(http_url) as api, httpx.AsyncClient(base_url=sockets_url, headers=AUTH, timeout=20) as live:
            http_tasks = supervised((await api.http.get("/metrics")).text)
            socket_tasks = supervised((await live.get("/metrics")).text)
            assert RECORD_WORK <= http_tasks and not SOCKET_WORK & http_tasks
            assert SOCKET_WORK <= socket_tasks and not RECORD_WORK & socket_tasks

            refused = await open_live(http_url, f"/ws/centers/{C}/display")
            assert await close_code(refused) == MISDIRECTED
            r = await live.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"})
            assert r.status_code == 421 and r.headers["content-type"] == "application/problem+json"

            display = await open_live(sockets_url, f"/ws/centers/{C}/display", token=ADMIN_TOKEN)
            ops = await open_live(sockets_url, "/ws/ops", token=ADMIN_TOKEN)
            assert (await receive(display))["type"] == "snapshot" and (await receive(ops))["type"] == "snapshot"
            await api.open_window("w1")
            issued = [await api.issue(phone="13812345678") for _ in range(3)]
            got = [await receive(display) for _ in range(4)]
            assert [m["type"] for m in got] == ["window.opened"] + ["ticket.issued"] * 3
            assert [m["ticket"]["id"] for m in got[1:]] == [t["id"] for t in issued]
            await api.serve("w1")
            assert [(await receive(display))["type"] for _ in range(3)] == \
                ["ticket.called", "ticket.started", "ticket.finished"]

            deadline = time.monotonic() + 20
            while True:   # the sockets process's figures, fed by its own reader
                figures = (await live.get("/api/v1/ops/figures", params={"center": C})).json()
                if figures["centers"][C]["served"] == 1 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert figures["centers"][C]["served"] == 1
            await display.close()
            await ops.close()

        redis = redis_client(settings.redis_url)  # type: ignore[arg-type]
        try:
            stream = Keys(settings.key_prefix).events(C)
            deadline = time.monotonic() + 30
            while True:   # every group the http process runs has taken and acked every event
                groups = await redis.xinfo_groups(stream)
                length = await redis.xlen(stream)
                newest = (await redis.xrevrange(stream, count=1))[0][0]
                # unread: the group has not reached the newest entry (the embedded Redis 6.2 has no lag)
                behind = {g["name"]: (g["pending"], g["last-delivered-id"] != newest) for g in groups
                          if g["pending"] or g["last-delivered-id"] != newest}
                if not behind or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert length and {g["name"] for g in groups} == {b"record", b"residents"} and not behind, (groups, behind)
        finally:
            await redis.aclose()
