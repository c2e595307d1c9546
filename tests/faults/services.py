"""Services a fault test may kill and stop: its own embedded Redis and PostgreSQL (queue_server/embedded.py)
under a temporary folder, never the machine's, which other tests use at the same time."""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import redis

from queue_server.embedded import embedded_postgres, embedded_redis, free_port
from queue_server.record.calendar import open_all_hours
from queue_server.record.demo_data import load_demo
from queue_server.record.migrate import migrate
from tests.support import Services, with_database


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """A temporary folder the embedded PostgreSQL's own system user can enter (tests run as root)."""
    with tempfile.TemporaryDirectory(prefix="qs-faults-") as tmp:
        os.chmod(tmp, 0o755)
        yield Path(tmp)


class OwnRedis:
    """An embedded Redis on a fixed free port, with its append-only file in ``folder``: SIGKILL it,
    optionally delete its data, and start it again on the same port and folder."""

    def __init__(self, folder: Path, persistent: bool = True) -> None:
        self.folder = folder
        self.port = free_port()
        self.persistent = persistent
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._running: contextlib.ExitStack | None = None
        self.restarts = 0

    def start(self) -> str:
        stack = contextlib.ExitStack()
        stack.enter_context(embedded_redis(self.folder, port=self.port, persistent=self.persistent))
        self._running = stack
        return self.url

    def kill(self, lose_data: bool = False) -> None:
        """SIGKILL, as a crash would; ``lose_data`` deletes the append-only file as a lost disk would."""
        with redis.Redis.from_url(self.url) as r:
            pid = int(r.info("server")["process_id"])
        os.kill(pid, signal.SIGKILL)
        assert self._running is not None
        self._running.close()   # reaps the killed process
        self._running = None
        if lose_data:
            for name in ("appendonly.aof", "dump.rdb"):
                (self.folder / name).unlink(missing_ok=True)

    def restart(self) -> None:
        self.start()
        self.restarts += 1
        deadline = time.monotonic() + 60
        with redis.Redis.from_url(self.url) as r:
            while True:   # loading its append-only file, Redis answers LOADING
                try:
                    r.ping()
                    return
                except redis.BusyLoadingError:
                    assert time.monotonic() < deadline, "Redis did not finish loading its data"
                    time.sleep(0.1)

    def close(self) -> None:
        if self._running is not None:
            self._running.close()
            self._running = None


class OwnPostgres:
    """An embedded PostgreSQL (a socket in its data folder): stop it as an operator would and start it
    again on the same data folder and socket, so every DSN handed out stays valid."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._running = contextlib.ExitStack()
        self.admin_dsn = ""
        self.restarts = 0

    def start(self) -> str:
        self.admin_dsn = self._running.enter_context(embedded_postgres(self.folder, database="postgres"))
        return self.admin_dsn

    @property
    def _server(self):  # type: ignore[no-untyped-def]
        from embedded_postgres import get_server

        return get_server(self.folder.resolve())

    def stop(self) -> None:
        from embedded_postgres import pg_ctl

        server = self._server
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)

    def restart(self) -> None:
        server = self._server
        with server._lock:
            server.ensure_postgres_running()
        self.restarts += 1

    def close(self) -> None:
        self._running.close()


async def migrated_template(admin_dsn: str, run_id: str) -> str:
    """A database with the schema and the demo data, open around the clock, to clone for each test
    (as tests/conftest.py makes its own)."""
    template = f"qs_{run_id}_template"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{template}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(with_database(admin_dsn, template))
    try:
        await migrate(conn)
        await load_demo(conn)
        await open_all_hours(conn)
    finally:
        await conn.close()
    return template


@contextlib.asynccontextmanager
async def own_postgres(redis_url: str) -> AsyncIterator[tuple[OwnPostgres, Services]]:
    """An embedded PostgreSQL that may be stopped, with ``Services`` making fresh databases on it."""
    with scratch_folder() as folder:
        pg = OwnPostgres(folder / "pg")
        try:
            admin_dsn = await asyncio.to_thread(pg.start)
            services = Services(redis_url, admin_dsn, uuid.uuid4().hex[:8])
            services.template = await migrated_template(admin_dsn, services.run_id)
            yield pg, services
        finally:
            await asyncio.to_thread(pg.close)
