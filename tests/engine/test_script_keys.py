"""No operation needs two centers' keys at once, and no script reaches outside the slot of the keys it
declares: what lets every script run on a Redis Cluster. Checked on the wire rather than by reading
the Lua — MONITOR shows each EVALSHA with its declared KEYS, then every command the script ran (as
client "lua"), and Redis runs nothing else in between. A broad day at two centers (issue, call,
recall, start, finish, transfer, no-show, cancel, pause and resume, windows opening and closing, the
status page, the queue view, the map, the trimmer and the record's housekeeping) runs under MONITOR;
every key any script touched must carry the hash tag of the keys that script declared. A script that
takes several centers a call (``each_center``: a center a call on a cluster) may declare several, and
touches only keys of those."""
from __future__ import annotations

import asyncio
import re
from typing import Any

from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.scripts import NAMES, Scripts
from tests.support import AUTH, on_a_service_day, running_app

CENTERS = ("jingansi", "caojiadu")
# The engine's own operations, which this day must exercise (others join in when they run).
MUST_RUN = {"issue", "call_next", "transition", "recall", "window_state", "ticket_status", "snapshot",
            "number_reserve", "map_counts", "trim_events", "prune_consumers"}
SEVERAL_CENTERS = {"map_counts", "record_lag"}
TAG = re.compile(r"\{([^}]*)\}")


async def a_day_at(client: Any, center: str) -> None:
    async def post(path: str, body: dict | None = None) -> Any:
        r = await client.post(path, json=body or {}, headers=AUTH)
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r.json() if r.content else None

    base = f"/api/v1/centers/{center}"
    for w, staff in (("w1", "s01"), ("w2", "s02")):
        await post(f"{base}/windows/{w}/open", {"staff_id": f"{center}-{staff}"})
    tickets = [await post(f"{base}/tickets", {"matter": "hrss-001"}) for _ in range(6)]
    await client.get(f"/api/v1/tickets/{tickets[0]['id']}")
    await client.get(f"{base}/queue", headers=AUTH)
    first = (await post(f"{base}/windows/w1/call-next"))["ticket"]
    await post(f"/api/v1/tickets/{first['id']}/recall")
    await post(f"/api/v1/tickets/{first['id']}/start")
    await post(f"/api/v1/tickets/{first['id']}/finish")
    second = (await post(f"{base}/windows/w1/call-next"))["ticket"]
    await post(f"/api/v1/tickets/{second['id']}/transfer", {"to_window": "w2"})
    third = (await post(f"{base}/windows/w1/call-next"))["ticket"]
    await post(f"/api/v1/tickets/{third['id']}/no-show")
    fourth = (await post(f"{base}/windows/w2/call-next"))["ticket"]
    await post(f"/api/v1/tickets/{fourth['id']}/pause")
    await post(f"/api/v1/tickets/{fourth['id']}/resume")
    await post(f"/api/v1/tickets/{tickets[-1]['id']}/cancel")
    await post(f"{base}/windows/w2/pause", {"reason": "break"})
    await post(f"{base}/windows/w1/close")


async def test_every_script_stays_in_the_slot_it_declares(settings: Settings) -> None:
    settings = on_a_service_day(settings)
    watcher = redis_client(settings.redis_url)
    names = {Scripts(watcher)[n].sha: n for n in NAMES}
    mine = f"{settings.key_prefix}:"
    seen: dict[str, int] = {}
    crossings: list[str] = []
    async with watcher.monitor() as monitor:
        done = asyncio.Event()

        async def watch() -> None:
            script, tags = "", set()
            async for line in monitor.listen():
                words = line["command"].split(" ")
                if line["client_type"] != "lua":
                    script, tags = "", set()
                    if words[0].upper() == "EVALSHA" and len(words) > 3 and words[3].startswith(mine):
                        script = names.get(words[1], words[1])
                        tags = {m for k in words[3:3 + int(words[2])] for m in TAG.findall(k)}
                        assert len(tags) == 1 or script in SEVERAL_CENTERS, f"{script} declares keys of {tags}"
                        seen[script] = seen.get(script, 0) + 1
                    if done.is_set() and words[0].upper() == "PING":
                        return
                elif script:
                    for word in words[1:]:
                        if word.startswith(mine) and (len(TAG.findall(word)) != 1 or TAG.findall(word)[0] not in tags):
                            crossings.append(f"{script}: {line['command'][:200]}")

        watching = asyncio.create_task(watch())
        async with running_app(settings) as (app, client):
            for center in CENTERS:
                await a_day_at(client, center)
            await client.get("/api/v1/map.geojson")
            await app.state.engine.numbers.top_up()
        done.set()
        await watcher.ping()
        await asyncio.wait_for(watching, 30)
    await watcher.aclose()
    assert crossings == []
    assert MUST_RUN <= set(seen), f"not exercised: {MUST_RUN - set(seen)}"
