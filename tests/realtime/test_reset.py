"""A cursor that can no longer be honoured gets a fresh snapshot flagged reset, never a silent gap:
older than the retained stream, from another epoch, malformed, or from a Redis that lost its data."""
from __future__ import annotations

from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from tests.realtime.live import C, Api, close_code, issue_once_rebuilt, lose_recorded_data, open_live, receive, reconcile
from tests.support import server_process

DISPLAY = f"/ws/centers/{C}/display"


async def test_cursor_older_than_the_retained_stream(settings: Settings) -> None:
    with server_process(settings) as (url, _):
        async with Api(url) as api:
            ws = await open_live(url, DISPLAY)
            snap = await receive(ws)
            await api.issue()
            old = (await receive(ws))["id"]
            await ws.close()
            for _ in range(3):
                await api.issue()
            r = redis_client(settings.redis_url)
            try:
                await r.xtrim(Keys(settings.key_prefix).events(C), maxlen=2, approximate=False)
            finally:
                await r.aclose()
            ws = await open_live(url, DISPLAY, cursor=old, epoch=snap["epoch"])
            fresh = await receive(ws)
            assert fresh["type"] == "snapshot" and fresh["reset"] is True and fresh["epoch"] == snap["epoch"]
            assert fresh["waiting"]["comprehensive"] == 4 and len(fresh["tickets"]) == 4
            await reconcile(ws, api, settings, fresh["cursor"], [])   # after the snapshot: no trimmed event replayed
            await ws.close()


async def test_wrong_epoch_malformed_or_future_cursor(settings: Settings) -> None:
    with server_process(settings) as (url, _):
        async with Api(url) as api:
            await api.issue()
            ws = await open_live(url, DISPLAY)
            snap = await receive(ws)
            await ws.close()
            for cursor, epoch in ((snap["cursor"], "another-epoch"), ("not-an-id", snap["epoch"]),
                                  ("99999999999999-0", snap["epoch"])):
                ws = await open_live(url, DISPLAY, cursor=cursor, epoch=epoch)
                msg = await receive(ws)
                assert msg["type"] == "snapshot" and msg["reset"] is True, (cursor, epoch)
                assert msg["epoch"] == snap["epoch"] and msg["cursor"] == snap["cursor"]
                await ws.close()
            # a cursor without an epoch is honoured while the stream still holds what follows it
            ws = await open_live(url, DISPLAY, cursor=snap["cursor"])
            assert (await receive(ws))["type"] == "resume"
            await ws.close()


async def test_redis_losing_its_data_closes_live_sockets_and_resets_their_cursors(settings: Settings) -> None:
    with server_process(settings, extra_env={"QUEUE_WS_EPOCH_CHECK_S": "0.3"}) as (url, _):
        async with Api(url) as api:
            await api.open_window("w1")
            issued = [(await api.issue())["id"] for _ in range(2)]
            ws = await open_live(url, DISPLAY)
            snap = await receive(ws)
            await lose_recorded_data(settings)
            assert await close_code(ws) == 1012
            await issue_once_rebuilt(api)
            ws = await open_live(url, DISPLAY, cursor=snap["cursor"], epoch=snap["epoch"])
            fresh = await receive(ws)
            assert fresh["type"] == "snapshot" and fresh["reset"] is True and fresh["epoch"] != snap["epoch"]
            assert {t["id"] for t in fresh["tickets"]} >= set(issued)
            await ws.close()
