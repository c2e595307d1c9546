"""Loads the Lua scripts (each with the shared helpers prepended) and registers them with redis-py,
which calls them by SHA and reloads them after a Redis restart."""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError

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


@dataclass
class _Call:
    script: AsyncScript
    keys: list[str]
    args: list[Any]
    answer: asyncio.Future[Any] | None = None


class Scripts:
    def __init__(self, redis: Redis) -> None:
        self._by_name: dict[str, AsyncScript] = {n: script(redis, n) for n in NAMES}
        self._redis = redis
        self._turn: list[_Call] | None = None   # the calls of this turn of the event loop, while one collects them
        self._sending: set[asyncio.Future[None]] = set()   # held until done (the loop keeps only weak references)

    def __getitem__(self, name: str) -> AsyncScript:
        return self._by_name[name]

    async def call(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """One call of script ``name``, sent with the other calls made in the same turn of the event
        loop as one pipeline: under load, requests that arrived together reach their scripts together,
        and one write and one read (each a system call, and a wakeup of Redis) serve them all. The
        first call of a turn collects the others by yielding once; alone, it makes the same round trip
        in place, cheaper than redis-py's own call of a script.
        Each call is still one script, atomic on its own, and answers or fails on its own; the order
        among one turn's calls is the order in which they were made. A cluster (scripts refused in
        a pipeline across nodes) gets each call on its own."""
        target = self._by_name[name]
        if isinstance(self._redis, RedisCluster):
            return await target(keys=keys, args=args)
        if self._turn is not None:   # another call is collecting this turn's: go with it
            joined = _Call(target, keys, args, asyncio.get_running_loop().create_future())
            self._turn.append(joined)
            return await joined.answer
        own = _Call(target, keys, args)
        turn = self._turn = [own]
        try:
            await asyncio.sleep(0)
        except BaseException:   # cancelled while collecting: its own call is not made, the others are
            turn.remove(own)
            raise
        finally:
            self._turn = None
            if any(c is not own for c in turn):
                if own in turn:
                    own.answer = asyncio.get_running_loop().create_future()
                sending = asyncio.ensure_future(_answer_each(self._redis, turn))   # a cancelled caller strands none
                self._sending.add(sending)
                sending.add_done_callback(self._sending.discard)
        if own.answer is not None:
            return await own.answer
        (answer,) = await _pipelined(self._redis, [own])   # alone in its turn: the same lean round trip
        if isinstance(answer, Exception):
            raise answer
        return answer


async def call_each(redis: Redis, script: AsyncScript, calls: Sequence[tuple[list[str], list[Any]]]) -> list[Any]:
    """One call of ``script`` per (keys, args) — one per center —, the answers in order: pipelined in
    one round trip on a single Redis; on a cluster, which refuses scripts in a pipeline (centers'
    keys sit on different nodes), all at once. The first error among the answers is raised.

    By SHA, loading the script only when Redis answers that it lacks it: redis-py's pipeline asks
    ``SCRIPT EXISTS`` before every round trip that holds a script, a second round trip each time."""
    if isinstance(redis, RedisCluster):
        return list(await asyncio.gather(*(script(keys=k, args=a) for k, a in calls)))
    answers = await _pipelined(redis, [_Call(script, keys, args) for keys, args in calls])
    for answer in answers:
        if isinstance(answer, Exception):
            raise answer
    return answers


async def call_grouped(redis: Redis, script: AsyncScript, calls: Sequence[tuple[list[str], list[Any]]],
                       shared: list[Any], per_call: int) -> list[Any]:
    """An answer per center from a script that takes several centers a call (``each_center`` in
    ``_lib.lua``): ``calls`` each center's keys and arguments, ``shared`` the arguments all take.
    On a single Redis ``per_call`` centers a call, one call at a time: a call per center, all in one
    pipeline, cost the caller about three times the CPU (``loadtests/record_lag.py``), and one call
    of every center would keep Redis's other clients waiting for all of it. On a cluster, whose
    centers' keys sit on different nodes, a center a call, all at once."""
    def joined(group: Sequence[tuple[list[str], list[Any]]]) -> tuple[list[str], list[Any]]:
        args: list[Any] = [len(shared), *shared]
        for keys, own in group:
            args += [len(keys), len(own), *own]
        return [k for keys, _ in group for k in keys], args

    if isinstance(redis, RedisCluster):
        return [answer for (answer,) in await call_each(redis, script, [joined([c]) for c in calls])]
    answers: list[Any] = []
    for i in range(0, len(calls), per_call):
        (group,) = await call_each(redis, script, [joined(calls[i:i + per_call])])
        answers.extend(group)
    return answers


async def _answer_each(redis: Redis, calls: list[_Call]) -> None:
    """Make ``calls`` in one pipeline and give each its answer (a refusal or a lost connection as its
    exception)."""
    try:
        answers = await _pipelined(redis, calls)
    except BaseException as exc:  # noqa: BLE001 - every caller gets what stopped the round trip
        answers = [exc] * len(calls)
    for call, answer in zip(calls, answers):
        if call.answer is not None and not call.answer.done():
            if isinstance(answer, BaseException):
                call.answer.set_exception(answer)
            else:
                call.answer.set_result(answer)


async def _pipelined(redis: Redis, calls: Sequence[_Call]) -> list[Any]:
    """Each call by its script's SHA in one round trip, the answers (or errors) in order; a script
    Redis lacks (restarted or flushed) is loaded and what it refused sent again."""
    answers = await _by_sha(redis, calls)
    lacking = [i for i, answer in enumerate(answers) if isinstance(answer, NoScriptError)]
    if lacking:
        for target in {id(calls[i].script): calls[i].script for i in lacking}.values():
            target.sha = await redis.script_load(target.script)
        for i, answer in zip(lacking, await _by_sha(redis, [calls[i] for i in lacking])):
            answers[i] = answer
    return answers


async def _by_sha(redis: Redis, calls: Sequence[_Call]) -> list[Any]:
    """The EVALSHAs written at once on one of the pool's connections and their replies read in order
    (a refusal as its exception), retried on a lost connection as redis-py retries a command. Not
    redis-py's pipeline: its object, its reset (a task of its own) and its per-command bookkeeping
    cost more than two or three scripts' own round trips."""
    pool = redis.connection_pool
    conn = await pool.get_connection()
    packed = conn.pack_commands([("EVALSHA", c.script.sha, len(c.keys), *c.keys, *c.args) for c in calls])

    async def round_trip() -> list[Any]:
        await conn.send_packed_command(packed)
        answers: list[Any] = []
        for _ in calls:
            try:
                answers.append(await conn.read_response())
            except ResponseError as exc:
                answers.append(exc)
        return answers

    async def reconnect(_: Exception) -> None:
        await conn.disconnect()

    try:
        return await conn.retry.call_with_retry(round_trip, reconnect)
    except BaseException:
        await conn.disconnect(nowait=True)   # replies may be left unread on it
        raise
    finally:
        await pool.release(conn)
