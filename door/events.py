"""The case transitions reach the center's stream as ``door.case`` events, from the transitions
table (the outbox): each exactly once, however often an announcer is stopped and started. A request
announces what it just did at once; the supervised loop catches up whatever a crash left behind.
Events never carry the resident's name, phone or ID number."""
from __future__ import annotations

import asyncio
from collections import defaultdict

import asyncpg
import orjson
from redis.asyncio import Redis

from queue_server.engine.keys import Keys
from queue_server.engine.scripts import script

from .store import ms

EVENT = "door.case"
REMEMBER = 10_000   # newest transition ids remembered per center: far more than one pass announces


class Announcer:
    def __init__(self, pool: asyncpg.Pool, redis: Redis, keys: Keys, maxlen: int, batch: int = 500) -> None:
        self.pool, self.keys, self.maxlen, self.batch = pool, keys, maxlen, batch
        self.door_announce = script(redis, "door_announce")
        self.emitted = 0
        self._one = asyncio.Lock()   # one pass at a time in this process; other processes are harmless

    async def announce(self) -> int:
        """Put every transition not yet announced on its center's stream; how many this call emitted."""
        async with self._one:
            rows = await self.pool.fetch(
                "SELECT t.*, (SELECT array_agg(matter ORDER BY matter) FROM door_case_matters m"
                " WHERE m.case_id = t.case_id) AS matters FROM door_transitions t WHERE t.announced_at IS NULL"
                " ORDER BY t.id LIMIT $1", self.batch)
            by_center: dict[str, list[asyncpg.Record]] = defaultdict(list)
            for r in rows:
                by_center[r["center"]].append(r)
            emitted = 0
            for center, found in by_center.items():
                args: list[object] = [self.maxlen, REMEMBER]
                for r in found:
                    data = {"type": EVENT, "at": ms(r["at"]), "center": center, "case_id": r["case_id"],
                            "transition": r["id"], "action": r["action"], "from_stage": r["from_stage"],
                            "to_stage": r["to_stage"], "actor": r["actor"], "reason": r["reason"],
                            "matters": list(r["matters"] or []), "detail": orjson.loads(r["data"])}
                    args += [r["id"], EVENT, orjson.dumps(data)]
                done = await self.door_announce(
                    keys=[self.keys.door_announced(center), self.keys.events(center)], args=args)
                emitted += len(done)
                await self.pool.execute("UPDATE door_transitions SET announced_at = now() WHERE id = ANY($1)",
                                        [r["id"] for r in found])
            self.emitted += emitted
            return emitted
