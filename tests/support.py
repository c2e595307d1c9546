"""Test plumbing shared by every test module: real services, a fresh database per test, the app
with its lifespan, and server processes for the multi-instance tests."""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from queue_server import cli
from queue_server.app import create_app
from queue_server.clock import Clock, ShiftedClock
from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys, drop_keys
from queue_server.record.personal import DEMO_KEY

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def redis_answers(url: str) -> bool:
    """Whether something takes connections where a Redis URL points: a ``unix://`` socket (the
    demo's embedded Redis) or a host and port."""
    parts = urlsplit(url)
    with contextlib.suppress(OSError):
        if parts.scheme == "unix":
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(parts.path)
        else:
            socket.create_connection((parts.hostname, parts.port), timeout=1).close()
        return True
    return False


def with_database(dsn: str, name: str) -> str:
    """The same server, another database (works for host:port and socket DSNs alike)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Services:
    redis_url: str
    admin_dsn: str  # a maintenance database on the server
    run_id: str
    template: str = ""

    async def fresh_database(self) -> str:
        name = f"qs_{self.run_id}_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await conn.close()
        return with_database(self.admin_dsn, name)

    def settings(self, database_url: str, **overrides: Any) -> Settings:
        base = Settings(redis_url=self.redis_url, database_url=database_url, admin_token=ADMIN_TOKEN,
                        key_prefix=f"t{self.run_id}{uuid.uuid4().hex[:6]}", persister_claim_idle_ms=1000,
                        rate_limit_per_minute=100_000, personal_data_key=DEMO_KEY)
        return replace(base, **overrides)


@contextlib.asynccontextmanager
async def prepared_services(redis_url: str, admin_dsn: str) -> AsyncIterator[Services]:
    """A session's services: a migrated template database with the demo data (each test clones it),
    and every key and database the session made dropped at its end."""
    from queue_server.record.calendar import open_all_hours
    from queue_server.record.demo_data import load_demo
    from queue_server.record.migrate import migrate

    svc = Services(redis_url, admin_dsn, uuid.uuid4().hex[:8])
    svc.template = f"qs_{svc.run_id}_template"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{svc.template}"')
        tconn = await asyncpg.connect(with_database(admin_dsn, svc.template))
        try:
            await migrate(tconn)
            await load_demo(tconn)
            await open_all_hours(tconn)   # tests issue at whatever hour CI runs; calendar tests set hours
        finally:
            await tconn.close()
        yield svc
    finally:
        drop_keys(redis_url, f"t{svc.run_id}*")   # every test's key prefix starts so
        for (name,) in await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", f"qs_{svc.run_id}_%"):
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def on_a_service_day(settings: Settings) -> Settings:
    """The same settings with every process's clock (in-process apps and server processes alike) moved
    to 10:00 of today's Shanghai date and running on from there, so a test that runs across 16:00 UTC
    (Shanghai midnight, when numbering and the day's figures reset) still sees one service day."""
    morning = datetime.now(ZoneInfo(settings.timezone)).replace(hour=10, minute=0, second=0, microsecond=0)
    return replace(settings, clock_offset_ms=ShiftedClock.starting_at(morning).offset_ms)


def service_day(settings: Settings) -> str:
    """The service day (YYYYMMDD, as in ticket ids) the processes of these settings live on now."""
    ms = ShiftedClock(settings.clock_offset_ms).now_ms()
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(settings.timezone)).strftime("%Y%m%d")


def lose_redis_data(settings: Settings) -> None:
    """What a Redis that lost its data looks like, for one test's keys only."""
    drop_keys(settings.redis_url, Keys(settings.key_prefix).everything)


@contextlib.asynccontextmanager
async def running_app(settings: Settings, clock: Clock | None = None, run_persister: bool = True
                      ) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(settings, clock, run_persister=run_persister)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


@contextlib.contextmanager
def server_process(settings: Settings, port: int | None = None,
                   extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real uvicorn process of the app on loopback, on this test's services and keys."""
    env = {**os.environ, "REDIS_URL": settings.redis_url or "", "DATABASE_URL": settings.database_url or "",
           "QUEUE_KEY_PREFIX": settings.key_prefix, "QUEUE_ADMIN_TOKEN": ADMIN_TOKEN,
           "QUEUE_PERSISTER_CLAIM_IDLE_MS": str(settings.persister_claim_idle_ms),
           "QUEUE_RATE_LIMIT_PER_MINUTE": str(settings.rate_limit_per_minute),
           "QUEUE_CLOCK_OFFSET_MS": str(settings.clock_offset_ms),
           "QUEUE_PERSONAL_DATA_KEY": settings.personal_data_key or DEMO_KEY, **(extra_env or {})}
    with cli.server_process(env, port, ready_s=30) as running:
        yield running


@contextlib.asynccontextmanager
async def tiers_front(sockets: str, http: str) -> AsyncIterator[str]:
    """One address for a test's tiers, as the proxy of deploy/nginx-tiers.conf gives a browser: each
    connection goes to the sockets process when its first request is a websocket's (``/ws/``), else
    to the http process, and its bytes are relayed both ways unchanged. Yields its base URL."""
    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readuntil(b"\r\n")
            target = urlsplit(sockets if first.split(b" ")[1].startswith(b"/ws/") else http)
            up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port)
        except (OSError, IndexError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        up_writer.write(first)
        await asyncio.gather(relay(reader, up_writer), relay(up_reader, writer), return_exceptions=True)

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@contextlib.asynccontextmanager
async def engine_for(settings: Settings, clock: Clock, catalog: Any = None) -> AsyncIterator[Any]:
    """A QueueEngine on the real services, without HTTP; ``catalog`` overrides the demo one."""
    from queue_server.engine.queue_engine import QueueEngine
    from queue_server.record.catalog import load_catalog
    from queue_server.record.rebuild import rebuild_if_lost

    redis = redis_client(settings.redis_url)  # type: ignore[arg-type]
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    try:
        engine = QueueEngine(redis, catalog or await load_catalog(pool), settings, clock, pool)
        await rebuild_if_lost(redis, pool, engine.keys, engine.catalog, clock)
        await engine.sync_catalog()
        yield engine
    finally:
        await redis.aclose()
        await pool.close()


async def wait_recorded(pool: asyncpg.Pool, redis_url: str, settings: Settings, center: str, timeout: float = 60.0) -> int:
    """Wait until PostgreSQL holds every event of the center's stream; returns that count."""
    r = redis_client(redis_url)
    try:
        total = await r.xlen(Keys(settings.key_prefix).events(center))
        deadline = time.monotonic() + timeout
        while True:
            n = await pool.fetchval("SELECT count(*) FROM events WHERE center = $1", center)
            if n >= total or time.monotonic() > deadline:
                return n
            await asyncio.sleep(0.1)
    finally:
        await r.aclose()


async def settled(app: Any, centers: list[str], timeout: float = 30.0) -> None:
    """Wait until the ops figures have taken every event the centers' streams hold."""
    state = app.state
    deadline = time.monotonic() + timeout
    while True:
        tails = {c: await state.redis.xrevrange(state.keys.events(c), count=1) for c in centers}
        if all(state.ops.figures.centers[c].cursor == (tails[c][0][0].decode() if tails[c] else None) for c in centers):
            return
        assert time.monotonic() < deadline, "the ops figures did not catch up with the streams"
        await asyncio.sleep(0.02)
