"""``call_each``: one script over many centers' keys in one round trip, answers in order, by SHA alone
(no ``SCRIPT EXISTS`` before each round trip), the script loaded again when Redis lost it, and the
first error among the answers raised."""
from __future__ import annotations

from typing import Any

import pytest
from redis.exceptions import ResponseError

from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.scripts import call_each

ECHO = "if ARGV[1] == 'bad' then return redis.error_reply('QS:bad:refused') end return {KEYS[1], ARGV[1]}"


async def counted(redis: Any) -> dict[str, int]:
    stats = await redis.info("commandstats")
    return {name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "script|exists", "script|load")}


async def test_answers_in_order_in_one_round_trip_by_sha_alone(settings: Settings) -> None:
    redis = redis_client(settings.redis_url)
    try:
        script = redis.register_script(ECHO)
        calls = [([f"{settings.key_prefix}:{{c{i}}}:k"], [str(i)]) for i in range(20)]
        await call_each(redis, script, calls)   # loaded, if this Redis lacked it
        before = await counted(redis)
        answers = await call_each(redis, script, calls)
        after = await counted(redis)
    finally:
        await redis.aclose()
    assert answers == [[k[0].encode(), a[0].encode()] for k, a in calls]
    assert after["evalsha"] - before["evalsha"] == 20
    assert after["script|exists"] == before["script|exists"] and after["script|load"] == before["script|load"]


async def test_a_redis_that_lost_the_script_gets_it_again(settings: Settings) -> None:
    redis = redis_client(settings.redis_url)
    try:
        script = redis.register_script(ECHO)
        await redis.script_flush()
        answers = await call_each(redis, script, [([f"{settings.key_prefix}:{{a}}:k"], ["1"]),
                                                  ([f"{settings.key_prefix}:{{b}}:k"], ["2"])])
        assert [a[1] for a in answers] == [b"1", b"2"]
        assert (await redis.script_exists(script.sha)) == [True]
    finally:
        await redis.aclose()


async def test_the_first_error_is_raised(settings: Settings) -> None:
    redis = redis_client(settings.redis_url)
    try:
        script = redis.register_script(ECHO)
        with pytest.raises(ResponseError, match="QS:bad:refused"):
            await call_each(redis, script, [([f"{settings.key_prefix}:{{a}}:k"], ["1"]),
                                            ([f"{settings.key_prefix}:{{b}}:k"], ["bad"])])
    finally:
        await redis.aclose()
