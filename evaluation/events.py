"""Evaluation events go on the center's stream in the engine's shape (``type`` + JSON ``data``), so
screens, dashboards and the record see them like any other event. Never a phone number, and never
a ``ticket`` or ``window`` object — the record and the screens would take them for ticket or window
states — but ``ticket_id`` and ``window_code`` instead."""
from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from queue_server.engine.keys import Keys


def _fields(center: str, kind: str, at_ms: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "data": orjson.dumps({**body, "type": kind, "at": at_ms, "center": center})}


async def emit(redis: Redis, keys: Keys, maxlen: int, center: str, kind: str, at_ms: int, body: dict[str, Any]) -> str:
    sid = await redis.xadd(keys.events(center), _fields(center, kind, at_ms, body), maxlen=maxlen, approximate=True)
    return sid.decode() if isinstance(sid, bytes) else sid


async def emit_all(redis: Redis, keys: Keys, maxlen: int, center: str, at_ms: int,
                   events: list[tuple[str, dict[str, Any]]]) -> None:
    """Several events of one center, in order, in one round trip (one stream: one node of a cluster)."""
    if len(events) == 1:
        await emit(redis, keys, maxlen, center, events[0][0], at_ms, events[0][1])
        return
    pipe = redis.pipeline(transaction=False)
    for kind, body in events:
        pipe.xadd(keys.events(center), _fields(center, kind, at_ms, body), maxlen=maxlen, approximate=True)
    await pipe.execute()
