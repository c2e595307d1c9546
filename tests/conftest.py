"""Fixtures start nothing but real services: the machine's Redis and PostgreSQL when REDIS_URL /
DATABASE_URL point at them, otherwise embedded ones for the session. Each test gets its own Redis
key prefix and its own PostgreSQL database (cloned from a migrated template with the demo data)."""
from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from queue_server.config import Settings
from queue_server.engine.keys import drop_keys
from queue_server.record.calendar import open_all_hours
from queue_server.record.demo_data import load_demo
from queue_server.record.migrate import migrate
from tests.support import Services, with_database


@pytest.fixture(scope="session")
def service_urls() -> Iterator[tuple[str, str]]:
    with contextlib.ExitStack() as stack:
        redis_url = os.environ.get("REDIS_URL")
        database_url = os.environ.get("DATABASE_URL")
        if not redis_url or not database_url:
            from queue_server.embedded import embedded_postgres, embedded_redis

            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qs-test-")))
            os.chmod(tmp, 0o755)
            if not redis_url:
                redis_url = stack.enter_context(embedded_redis(tmp / "redis", persistent=False))
            if not database_url:
                database_url = stack.enter_context(embedded_postgres(tmp / "pg", database="postgres"))
        yield redis_url, database_url


@pytest.fixture(scope="session")
async def services(service_urls: tuple[str, str]) -> AsyncIterator[Services]:
    redis_url, admin_dsn = service_urls
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


@pytest.fixture
async def database_url(services: Services) -> str:
    return await services.fresh_database()


@pytest.fixture
def settings(services: Services, database_url: str) -> Settings:
    return services.settings(database_url)


@pytest.fixture(scope="session")
async def browser():  # type: ignore[no-untyped-def]
    """One headless Chromium for the session; each test opens its own context. Only the tests that ask
    for it depend on the browser: they skip without it, or fail in CI (tests.browser.chromium_or_skip)."""
    from playwright.async_api import async_playwright

    from tests.browser import ARGS, chromium_or_skip

    executable = chromium_or_skip()
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()
