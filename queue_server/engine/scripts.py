"""Loads the Lua scripts (each with the shared helpers prepended) and registers them with redis-py,
which calls them by SHA and reloads them after a Redis restart."""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

NAMES = ("issue", "call_next", "transition", "recall", "window_state", "ticket_status", "snapshot", "prune_consumers",
         "number_reserve", "map_counts", "trim_events", "mark_present", "device_presence", "material_event",
         "center_event", "line_outlook", "door_announce", "resident_quota", "resident_code", "resident_claim",
         "resident_release", "near_due", "session_open", "session_close", "resident_code_use", "record_lag")


@cache   # read once per process: engines and the consumers' pruning make a Scripts each
def _source(name: str) -> str:
    folder = resources.files("queue_server.engine") / "scripts"
    return (folder / "_lib.lua").read_text(encoding="utf-8") + "\n" + (folder / f"{name}.lua").read_text(encoding="utf-8")


def script(redis: Redis, name: str) -> AsyncScript:
    """One script, registered with ``redis``: for a caller that needs just that one."""
    return redis.register_script(_source(name))


class Scripts:
    def __init__(self, redis: Redis) -> None:
        self._by_name: dict[str, AsyncScript] = {n: script(redis, n) for n in NAMES}

    def __getitem__(self, name: str) -> AsyncScript:
        return self._by_name[name]


async def call_each(redis: Redis, script: AsyncScript, calls: Sequence[tuple[list[str], list[Any]]]) -> list[Any]:
    """One call of ``script`` per (keys, args) — one per center —, the answers in order: pipelined in
    one round trip on a single Redis; on a cluster, which refuses scripts in a pipeline (centers'
    keys sit on different nodes), all at once. The first error among the answers is raised.

    By SHA, loading the script only when Redis answers that it lacks it: redis-py's pipeline asks
    ``SCRIPT EXISTS`` before every round trip that holds a script, a second round trip each time."""
    if isinstance(redis, RedisCluster):
        return list(await asyncio.gather(*(script(keys=k, args=a) for k, a in calls)))
    answers = await _by_sha(redis, script.sha, calls)
    lacking = [i for i, answer in enumerate(answers) if isinstance(answer, NoScriptError)]
    if lacking:   # a Redis restarted or flushed: load it, then again what it refused
        script.sha = await redis.script_load(script.script)
        for i, answer in zip(lacking, await _by_sha(redis, script.sha, [calls[i] for i in lacking])):
            answers[i] = answer
    for answer in answers:
        if isinstance(answer, Exception):
            raise answer
    return answers


async def _by_sha(redis: Redis, sha: str, calls: Sequence[tuple[list[str], list[Any]]]) -> list[Any]:
    async with redis.pipeline(transaction=False) as pipe:
        for keys, args in calls:
            pipe.evalsha(sha, len(keys), *keys, *args)
        return await pipe.execute(raise_on_error=False)
