"""The minute's safety reload of the catalog loads only when the catalog's tables changed since the
last load — a change made outside the API (an update, an insert, a delete in PostgreSQL) is taken at
the next look, and a minute with no change loads nothing (at the city's size each load built 30,000
objects in every process)."""
from __future__ import annotations

import asyncio

from queue_server.config import Settings
from queue_server.record.catalog import catalog_fingerprint
from tests.support import running_app

C = "jingansi"


async def test_the_safety_reload_loads_what_changed_and_only_then(settings: Settings) -> None:
    async with running_app(settings) as (app, _client):
        net, pool = app.state.network, app.state.pool
        while net.reloads == 0:                                     # the load on subscribing
            await asyncio.sleep(0.02)
        loaded = net.reloads
        await net.reload(only_if_changed=True)
        assert net.reloads == loaded, "nothing changed: nothing loaded"

        await pool.execute("UPDATE windows SET name_zh = '便民窗口' WHERE center = $1 AND code = 'w1'", C)
        await net.reload(only_if_changed=True)
        assert net.reloads == loaded + 1
        assert app.state.engine.catalog.centers[C].windows["w1"].name_zh == "便民窗口"

        before = await catalog_fingerprint(pool)
        async with pool.acquire() as conn, conn.transaction():   # a row gone, another added: the count stays
            point = await conn.fetchrow("SELECT * FROM remote_assignments ORDER BY id LIMIT 1")
            assert point is not None
            await conn.execute("DELETE FROM remote_assignments WHERE id = $1", point["id"])
            await conn.execute(
                "INSERT INTO remote_assignments (center, window_code, point, starts_min, ends_min, weekdays, created_by)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)", *(point[k] for k in (
                    "center", "window_code", "point", "starts_min", "ends_min", "weekdays", "created_by")))
        assert await catalog_fingerprint(pool) != before
        await pool.execute("DELETE FROM remote_assignments WHERE id = (SELECT max(id) FROM remote_assignments)")
        changed = await catalog_fingerprint(pool)
        await net.reload(only_if_changed=True)
        assert net.reloads == loaded + 2 and net.fingerprint == changed
        await net.reload()                                          # an announced change: loaded whatever it finds
        assert net.reloads == loaded + 3
