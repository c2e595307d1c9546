"""Helpers for the live-socket tests: real websockets (the `websockets` client) against real server
processes, and the HTTP calls that make events happen."""
from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from tests.support import ADMIN_TOKEN, AUTH, lose_redis_data, wait_recorded

C = "jingansi"


def ws_url(base: str, path: str, **query: str | None) -> str:
    q = {k: v for k, v in query.items() if v is not None}
    return base.replace("http://", "ws://") + path + (f"?{urlencode(q)}" if q else "")


async def open_live(base: str, path: str, token: str | None = ADMIN_TOKEN, **query: str | None) -> ClientConnection:
    return await connect(ws_url(base, path, token=token, **query), compression=None, max_size=2**24,
                         open_timeout=20, ping_interval=None)


async def receive(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    """The next message that is not a ping."""
    while True:
        msg = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg.get("type") != "ping":
            return msg


async def receive_n(ws: ClientConnection, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    return [await receive(ws, timeout) for _ in range(n)]


async def silent(ws: ClientConnection, wait: float = 0.3) -> bool:
    """True when nothing but pings arrives for ``wait`` seconds."""
    try:
        await receive(ws, wait)
    except asyncio.TimeoutError:
        return True
    return False


async def reconcile(ws: ClientConnection, api: "Api", settings: Settings, after: str,
                    received: list[dict[str, Any]]) -> None:
    """Exactly once, shown against the stream rather than by a moment of silence: a marker event made
    now must arrive, and everything a center-wide socket got after ``after`` up to that marker
    (``received`` plus what follows it) must be the stream's own XRANGE over the same range —
    every id once, none missing, in order."""
    marker = await api.issue()
    got = list(received)
    while not (got and got[-1]["type"] == "ticket.issued" and got[-1]["ticket"]["id"] == marker["id"]):
        got.append(await receive(ws))
    r = redis_client(settings.redis_url)
    try:
        entries = await r.xrange(Keys(settings.key_prefix).events(C), min=f"({after}", max=got[-1]["id"])
    finally:
        await r.aclose()
    assert [e["id"] for e in got] == [sid.decode() for sid, _ in entries]


async def lose_recorded_data(settings: Settings) -> None:
    """Redis loses its data (this test's keys) once PostgreSQL holds every event of the center, so the
    day can be rebuilt from the record."""
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        await wait_recorded(pool, settings.redis_url, settings, C)
    finally:
        await pool.close()
    lose_redis_data(settings)


async def issue_once_rebuilt(api: "Api") -> None:
    """Issue a ticket as soon as the queue is back: 503 while the persister rebuilds the day from
    PostgreSQL, then 201."""
    for _ in range(100):
        r = await api.http.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"})
        if r.status_code == 201:
            return
        assert r.status_code == 503
        await asyncio.sleep(0.1)


async def close_code(ws: ClientConnection, timeout: float = 10.0) -> int | None:
    """Read until the server closes, within ``timeout`` in all; its close code. A socket left open
    but pinged (a server that did not close it) fails the test at its deadline, not the suite never."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


class Api:
    """The HTTP calls of a test, as the admin."""

    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, headers=AUTH, timeout=20)

    async def __aenter__(self) -> "Api":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def open_window(self, window: str, staff: str | None = None) -> None:
        r = await self.http.post(f"/api/v1/centers/{C}/windows/{window}/open",
                                 json={"staff_id": staff or f"{C}-s0{window[-1]}"})
        assert r.status_code == 200, r.text

    async def issue(self, phone: str | None = None, matter: str = "hrss-001") -> dict[str, Any]:
        body: dict[str, Any] = {"matter": matter}
        if phone:
            body["phone"] = phone
        r = await self.http.post(f"/api/v1/centers/{C}/tickets", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    async def call_next(self, window: str) -> dict[str, Any]:
        r = await self.http.post(f"/api/v1/centers/{C}/windows/{window}/call-next")
        assert r.status_code == 200, r.text
        return r.json()["ticket"]

    async def act(self, ticket_id: str, action: str) -> None:
        r = await self.http.post(f"/api/v1/tickets/{ticket_id}/{action}")
        assert r.status_code == 200, r.text

    async def serve(self, window: str) -> str:
        """Call, start and finish the next ticket at a window; its id."""
        tid = (await self.call_next(window))["id"]
        await self.act(tid, "start")
        await self.act(tid, "finish")
        return tid

    async def token(self, role: str, window: str | None = None, device: str | None = None,
                    center: str = C, staff: str | None = None, label: str = "") -> str:
        body = {"role": role, "center": center, "window": window, "device_kind": device, "staff_id": staff,
                "label": label}
        r = await self.http.post("/api/v1/tokens", json={k: v for k, v in body.items() if v is not None})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    async def status(self) -> dict[str, Any]:
        return (await self.http.get("/api/v1/ops/realtime")).json()
