"""What every benchmark needs: services (the configured ones or embedded), a fresh database with the
demo catalog, its own key prefix, and server processes on loopback. Used by the scripts here."""
from __future__ import annotations

import asyncio
import contextlib
import cProfile
import os
import pstats
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from queue_server.cli import server_process
from queue_server.engine.keys import Keys, drop_keys

if TYPE_CHECKING:
    import httpx

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "load-admin-token"


REDIS_KINDS = ("single", "cluster")
CLUSTER_MASTERS = 3


@contextlib.contextmanager
def services(redis_kind: str = "single") -> Iterator[tuple[str, str]]:
    """(redis_url, maintenance DSN): REDIS_URL / DATABASE_URL when set (REDIS_URL as given, whatever
    ``redis_kind``), else embedded ones: one Redis, or for ``cluster`` a Redis Cluster of
    ``CLUSTER_MASTERS`` masters, the shape docs/scale.md sizes from."""
    with contextlib.ExitStack() as stack:
        redis_url, dsn = os.environ.get("REDIS_URL"), os.environ.get("DATABASE_URL")
        if not redis_url or not dsn:
            from queue_server.embedded import embedded_postgres, embedded_redis, embedded_redis_cluster

            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qs-load-")))
            os.chmod(tmp, 0o755)
            if not redis_url:
                redis_url = stack.enter_context(embedded_redis_cluster(tmp / "redis", masters=CLUSTER_MASTERS)
                                                if redis_kind == "cluster"
                                                else embedded_redis(tmp / "redis", persistent=False, unix_socket=True))
            dsn = dsn or stack.enter_context(embedded_postgres(tmp / "pg", database="postgres"))
        yield redis_url, dsn


@contextlib.asynccontextmanager
async def fresh_database(dsn: str, catalog: Path | None = None, until: int | None = None):
    """A new database with the schema (up to migration ``until``, default all) and the Jing'an demo
    catalog (or ``catalog``, a file for ``queue_server.record.importer``); dropped afterwards."""
    from queue_server.record.calendar import open_all_hours
    from queue_server.record.demo_data import load_demo
    from queue_server.record.importer import import_catalog
    from queue_server.record.migrate import migrate

    name = f"qs_load_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, until=until)
        if catalog is None:
            await load_demo(conn)
    finally:
        await conn.close()
    if catalog is not None:
        await import_catalog(url, catalog)
    conn = await asyncpg.connect(url)
    try:
        await open_all_hours(conn)   # a benchmark issues at whatever hour it runs
    finally:
        await conn.close()
    try:
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.contextmanager
def key_prefix(redis_url: str, stem: str) -> Iterator[str]:
    """A fresh Redis key prefix for a benchmark's servers, its keys deleted afterwards: the machine's
    Redis is shared with the tests, other runs and the demo."""
    prefix = f"{stem}{uuid.uuid4().hex[:6]}"
    try:
        yield prefix
    finally:
        drop_keys(redis_url, Keys(prefix).everything)


@contextlib.contextmanager
def server(redis_url: str, database_url: str, prefix: str, app: str = "queue_server.app:create_app",
           workers: int = 1, extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """A server process of the app (or the bare baseline ``app``) on the run's services and keys."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url, "QUEUE_KEY_PREFIX": prefix,
           "QUEUE_ADMIN_TOKEN": ADMIN_TOKEN, "QUEUE_RATE_LIMIT_PER_MINUTE": "1000000", **(extra_env or {})}
    with server_process(env, app=app, workers=workers) as running:
        yield running


async def command_stats(redis, command: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Calls of ``command`` Redis has served so far and the microseconds its own clock put in them
    (``INFO commandstats``: every client's, so a benchmark reading it runs alone on its Redis)."""
    stats = (await redis.info("commandstats")).get(f"cmdstat_{command}", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


def hottest(profiler: "cProfile.Profile", n: int = 30) -> list[list[Any]]:
    """cProfile's ``n`` functions with the most own time, each as [name (file:line), % of the total]."""
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())   # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:n]   # type: ignore[attr-defined]
    return [[f"{fn[2]} ({fn[0].rsplit('site-packages/', 1)[-1]}:{fn[1]})", round(100 * row[2] / total, 1)]
            for fn, row in rows]


async def timed(client: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None) -> tuple[float, httpx.Response]:
    """A GET of ``path`` and its wall time in milliseconds."""
    start = time.perf_counter()
    r = await client.get(path, params=params)
    return (time.perf_counter() - start) * 1000, r


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def run(coro) -> None:  # type: ignore[no-untyped-def]
    try:
        import uvloop

        uvloop.run(coro)
    except ImportError:
        asyncio.run(coro)
