"""``Scripts.call``: the script calls made in one turn of the event loop go to Redis as one pipeline
on one connection, each still getting its own answer or its own refusal; a Redis that lost the
scripts gets them again; a call alone in its turn is one EVALSHA of its own; a caller cancelled while its turn is collected strands none of the others,
and its own call is not made."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from redis.exceptions import ResponseError

from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.scripts import Scripts

N = 30


async def evalsha_calls(redis: Any) -> int:
    return (await redis.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0)


def status_call(settings: Settings, i: int) -> tuple[list[str], list[Any]]:
    base = f"{settings.key_prefix}:{{c{i}}}:"
    return [f"{base}t:T{i}"], [base, 0]


def refused_issue(settings: Settings) -> tuple[list[str], list[Any]]:
    """An issue at a center whose state Redis lost: the script refuses it (rebuilding)."""
    base = f"{settings.key_prefix}:{{gone}}:"
    return ([f"{base}seq", f"{base}idem", f"{base}events", f"{base}live", f"{base}w", f"{base}alive", f"{base}reserve"],
            [base, "gone", "20261203", "A", "q", "n", 0, 0, "{}", 0, 100, 100])


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Any]:
    """A client on the test's Redis, with N tickets serving at N centers."""
    client = redis_client(settings.redis_url)
    for i in range(N):
        (keys, _) = status_call(settings, i)
        await client.hset(keys[0], mapping={"id": f"T{i}", "status": "serving", "queue": "q", "version": 1})
    yield client
    await client.aclose()


async def test_one_turns_calls_share_one_round_trip_and_keep_their_own_answers(redis: Any, settings: Settings) -> None:
    scripts = Scripts(redis)
    await scripts.call("ticket_status", *status_call(settings, 0))   # loaded, one connection made
    made = len(redis.connection_pool._available_connections)
    before = await evalsha_calls(redis)
    answers = await asyncio.gather(*(scripts.call("ticket_status", *status_call(settings, i)) for i in range(N)))
    after = await evalsha_calls(redis)
    assert [orjson.loads(a)["ticket"]["id"] for a in answers] == [f"T{i}" for i in range(N)]
    assert after - before == N
    assert len(redis.connection_pool._available_connections) == made, "one connection served the turn"


async def test_a_refusal_in_a_turn_is_its_callers_alone(redis: Any, settings: Settings) -> None:
    scripts = Scripts(redis)
    answers = await asyncio.gather(scripts.call("ticket_status", *status_call(settings, 1)),
                                   scripts.call("issue", *refused_issue(settings)),
                                   scripts.call("ticket_status", *status_call(settings, 2)),
                                   return_exceptions=True)
    assert orjson.loads(answers[0])["ticket"]["id"] == "T1"
    assert isinstance(answers[1], ResponseError) and str(answers[1]).startswith("QS:rebuilding:")
    assert orjson.loads(answers[2])["ticket"]["id"] == "T2"


async def test_a_redis_that_lost_the_scripts_gets_them_again_within_a_turn(redis: Any, settings: Settings) -> None:
    scripts = Scripts(redis)
    await redis.script_flush()
    answers = await asyncio.gather(*(scripts.call("ticket_status", *status_call(settings, i)) for i in range(5)))
    assert [orjson.loads(a)["ticket"]["id"] for a in answers] == [f"T{i}" for i in range(5)]
    await redis.script_flush()
    assert orjson.loads(await scripts.call("ticket_status", *status_call(settings, 6)))["ticket"]["id"] == "T6"


async def test_a_call_alone_in_its_turn_is_one_evalsha_and_raises_its_own_refusal(redis: Any, settings: Settings) -> None:
    scripts = Scripts(redis)
    await scripts.call("ticket_status", *status_call(settings, 0))
    before = await evalsha_calls(redis)
    assert orjson.loads(await scripts.call("ticket_status", *status_call(settings, 1)))["ticket"]["id"] == "T1"
    assert await evalsha_calls(redis) - before == 1
    with pytest.raises(ResponseError, match="^QS:rebuilding:"):
        await scripts.call("issue", *refused_issue(settings))


async def test_a_caller_cancelled_while_its_turn_is_collected_strands_no_one(redis: Any, settings: Settings) -> None:
    scripts = Scripts(redis)
    await scripts.call("ticket_status", *status_call(settings, 0))
    before = await evalsha_calls(redis)
    tasks = [asyncio.create_task(scripts.call("ticket_status", *status_call(settings, i))) for i in range(5)]
    await asyncio.sleep(0)   # each has made its call: the first collects the turn, the rest joined it
    tasks[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    answers = await asyncio.wait_for(asyncio.gather(*tasks[1:]), 10)
    assert [orjson.loads(a)["ticket"]["id"] for a in answers] == [f"T{i}" for i in range(1, 5)]
    assert await evalsha_calls(redis) - before == 4, "the cancelled caller's call was not made"
