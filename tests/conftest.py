"""Fixtures start nothing but real services: the machine's Redis and PostgreSQL when REDIS_URL /
DATABASE_URL point at them, otherwise embedded ones for the session. Each test gets its own Redis
key prefix and its own PostgreSQL database (cloned from a migrated template with the demo data)."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from queue_server.config import Settings
from tests.faults.services import OwnPostgres, own_postgres
from tests.support import Services, prepared_services


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
    async with prepared_services(*service_urls) as svc:
        yield svc


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


@pytest.fixture(scope="module")
async def record(service_urls: tuple[str, str]) -> AsyncIterator[tuple[OwnPostgres, Services]]:
    """A PostgreSQL of the module's own beside the run's Redis, for the tests that stop and start it."""
    async with own_postgres(service_urls[0]) as found:
        yield found
