"""The epoch of a center's stream: a random tag created when missing. A Redis that lost its data lost
the tag with it, so every cursor handed out before is recognisably from another history."""
from __future__ import annotations

import secrets

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from ..engine.keys import Keys


def queue_ensure(pipe: Pipeline, keys: Keys, center: str) -> None:
    """Add "create the epoch if missing, then read it" to a MULTI pipeline (two replies)."""
    pipe.set(keys.epoch(center), secrets.token_hex(6), nx=True)
    pipe.get(keys.epoch(center))


async def ensure_epoch(redis: Redis, keys: Keys, center: str) -> str:
    """The center's epoch, created atomically by whoever needs it first."""
    async with redis.pipeline(transaction=True) as pipe:
        queue_ensure(pipe, keys, center)
        _, value = await pipe.execute()
    return value.decode() if isinstance(value, bytes) else str(value)


async def current_epochs(redis: Redis, keys: Keys, centers: list[str]) -> dict[str, str | None]:
    """Each center's epoch as stored now (None where Redis no longer has one)."""
    async with redis.pipeline(transaction=False) as pipe:
        for c in centers:
            pipe.get(keys.epoch(c))
        values = await pipe.execute()
    return {c: (v.decode() if isinstance(v, bytes) else v) for c, v in zip(centers, values)}
