"""Each fault test runs on services it may kill: one embedded PostgreSQL for the folder (a fresh
database per test, cloned from a migrated template) and an embedded Redis of its own, with its
append-only file, started and killed by the test — never the machine's."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from queue_server.config import Settings
from tests.faults.services import OwnPostgres, OwnRedis, own_postgres, scratch_folder
from tests.support import Services, on_a_service_day


@dataclass
class Stage:
    postgres: OwnPostgres
    redis: OwnRedis
    settings: Settings


@pytest.fixture(scope="session")
async def own_record() -> AsyncIterator[tuple[OwnPostgres, Services]]:
    async with own_postgres(redis_url="") as found:
        yield found


@pytest.fixture
async def stage(own_record: tuple[OwnPostgres, Services]) -> AsyncIterator[Stage]:
    postgres, services = own_record
    with scratch_folder() as folder:
        redis = OwnRedis(folder / "redis", persistent=True)
        redis.start()
        try:
            settings = services.settings(await services.fresh_database(), redis_url=redis.url)
            yield Stage(postgres, redis, on_a_service_day(settings))
        finally:
            redis.close()
