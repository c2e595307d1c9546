"""The token cache and the rate limiter are bounded by forgetting their oldest entries, not by
clearing: a flood of made-up tokens or of new clients must neither reset the limits of a client
already held back nor throw out the tokens in use."""
from __future__ import annotations

import secrets

import asyncpg
import pytest

from queue_server.api.auth import TokenCache
from queue_server.api.problems import Problem
from queue_server.api.ratelimit import MAX_CLIENTS, RateLimiter
from queue_server.config import Settings
from queue_server.record.people import create_token, token_hash

C = "jingansi"


def test_a_flood_of_new_clients_does_not_reset_a_held_back_client() -> None:
    limiter = RateLimiter(per_minute=60, burst=10)
    for _ in range(10):
        limiter.check("ip:10.0.0.1")
    with pytest.raises(Problem) as refused:
        limiter.check("ip:10.0.0.1")
    assert refused.value.status == 429 and refused.value.retry_after_s >= 1
    for i in range(MAX_CLIENTS + MAX_CLIENTS // 2):   # more new clients than the limiter keeps
        limiter.check(f"ip:flood-{i}")
        if i % 1000 == 0:
            with pytest.raises(Problem):   # the held-back client keeps trying: still held back
                limiter.check("ip:10.0.0.1")
    with pytest.raises(Problem):
        limiter.check("ip:10.0.0.1")
    assert len(limiter._buckets) <= MAX_CLIENTS


async def test_a_flood_of_made_up_tokens_evicts_no_token_in_use(settings: Settings) -> None:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    try:
        tokens = [await create_token(pool, "device", C, f"w{n}", device_kind="tablet") for n in range(1, 9)]
        cache = TokenCache(pool, None, max_known=100, max_unknown=300)
        await cache.preload()
        hot = tokens[0]
        for i in range(1_000):   # over three times what the cache keeps of unknown tokens
            assert await cache.resolve(f"qs_{secrets.token_urlsafe(24)}") is None
            if i % 50 == 0:
                assert (await cache.resolve(hot)).window == "w1"
        assert all(token_hash(t) in cache._known for t in tokens)   # none had to be looked up again
        assert len(cache._unknown) <= 300
    finally:
        await pool.close()
