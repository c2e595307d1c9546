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


async def emit_all(redis: Redis, keys: Keys, maxlen: int, events: list[tuple[str, str, int, dict[str, Any]]]) -> None:
    """Events as ``emit`` takes them (center, kind, at_ms, body), each center's in order, in one
    round trip (a cluster's pipeline sends each node its own)."""
    if len(events) == 1:
        await emit(redis, keys, maxlen, *events[0])
        return
    pipe = redis.pipeline(transaction=False)
    for center, kind, at_ms, body in events:
        pipe.xadd(keys.events(center), _fields(center, kind, at_ms, body), maxlen=maxlen, approximate=True)
    await pipe.execute()
