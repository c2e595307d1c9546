"""Which devices are connected and when each was last heard from, in a Redis hash per center, so
the dashboard can show them online or offline. Updates are batched: a hall full of screens sending
heartbeats costs one pipeline every few seconds, not one write each."""
from __future__ import annotations

import asyncio
import logging

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..clock import Clock
from ..domain.devices import presence_field
from ..engine.keys import Keys
from ..record.people import Principal, token_hash

log = logging.getLogger("queue_server.realtime")


class Presence:
    def __init__(self, redis: Redis, keys: Keys, clock: Clock, flush_s: float) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.flush_s = flush_s
        self._pending: dict[tuple[str, str], tuple[int, bool]] = {}   # (center, device) -> (last seen ms, online)

    async def identify(self, who: Principal, token: str) -> str:
        """The device's field in its center's hash: kind, window and the token's label (read with
        the token itself, so a socket's opening costs no query of its own for it)."""
        kind = who.device_kind if who.role == "device" else who.role
        return presence_field(str(kind), who.window, self._label(who, token))

    @staticmethod
    def _label(who: Principal, token: str) -> str:
        if who.role == "admin":
            return "admin"
        if who.role == "staff" and who.staff_id:
            return who.staff_id
        return who.label or who.device or token_hash(token)[:12]   # a device's field outlives its token's rotation

    def seen(self, center: str, device: str, online: bool = True) -> None:
        """Noted now, written with the next flush (a heartbeat costs no Redis command of its own)."""
        self._pending[(center, device)] = (self.clock.now_ms(), online)

    async def flush(self) -> None:
        """One HSET per center with all its devices heard from since the last flush."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        by_center: dict[str, dict[str, bytes]] = {}
        for (center, device), (seen, online) in batch.items():
            kind, window, label = device.split(":", 2)
            by_center.setdefault(center, {})[device] = orjson.dumps(
                {"kind": kind, "window": None if window == "-" else window, "label": label, "last_seen": seen,
                 "online": online})
        async with self.redis.pipeline(transaction=False) as pipe:
            for center, fields in by_center.items():
                pipe.hset(self.keys.devices(center), mapping=fields)
            await pipe.execute()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.flush_s)
            except asyncio.TimeoutError:
                pass
            try:
                await self.flush()
            except (RedisError, OSError) as exc:
                log.warning("device presence not recorded: %s", exc)
