"""Evaluation events go on the center's stream in the engine's shape (``type`` + JSON ``data``), so
screens, dashboards and the record see them like any other event. Never a phone number, and never
a ``ticket`` or ``window`` object — the record and the screens would take them for ticket or window
states — but ``ticket_id`` and ``window_code`` instead."""
from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from queue_server.engine.keys import Keys


async def emit(redis: Redis, keys: Keys, maxlen: int, center: str, kind: str, at_ms: int, body: dict[str, Any]) -> str:
    data = {**body, "type": kind, "at": at_ms, "center": center}
    sid = await redis.xadd(keys.events(center), {"type": kind, "data": orjson.dumps(data)}, maxlen=maxlen, approximate=True)
    return sid.decode() if isinstance(sid, bytes) else sid
