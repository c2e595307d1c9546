"""Snapshot then events in stream order; a reconnect with its cursor gets exactly what it missed, once,
in order — on the same instance, after the server restarted, and on another instance. "Exactly once"
is checked against the stream itself (live.reconcile), not by a moment of silence."""
from __future__ import annotations


from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from tests.realtime.live import C, Api, open_live, receive, receive_n, reconcile
from tests.support import server_process

DISPLAY = f"/ws/centers/{C}/display"


def ids(events: list[dict]) -> list[str]:
    return [e["id"] for e in events]


def key(stream_id: str) -> tuple[int, int]:
    ms, seq = stream_id.split("-")
    return int(ms), int(seq)


async def test_snapshot_then_events_in_order_and_no_phone(settings: Settings) -> None:
    with server_process(settings) as (url, _):
        async with Api(url) as api:
            await api.open_window("w1")
            waiting = await api.issue(phone="13812345678")
            ws = await open_live(url, DISPLAY)
            snap = await receive(ws)
            assert snap["type"] == "snapshot" and snap["center"] == C and snap["reset"] is False
            assert snap["epoch"] and snap["cursor"] and isinstance(snap["now"], int)
            assert {w["id"] for w in snap["windows"]} >= {"w1", "w8", "r1"}
            assert snap["waiting"]["comprehensive"] == 1
            [t] = snap["tickets"]
            assert t["id"] == waiting["id"] and "phone" not in t and t["phone_masked"] == "138****5678"

            called = await api.call_next("w1")
            await api.act(called["id"], "start")
            await api.act(called["id"], "finish")
            events = await receive_n(ws, 3)
            assert [e["type"] for e in events] == ["ticket.called", "ticket.started", "ticket.finished"]
            assert all(e["ticket"]["id"] == waiting["id"] and "phone" not in e["ticket"] for e in events)
            assert events[0]["window"]["id"] == "w1" and events[0]["window"]["staff_id"] == f"{C}-s01"
            stream_ids = [key(snap["cursor"])] + [key(i) for i in ids(events)]
            assert stream_ids == sorted(set(stream_ids))
            assert "13812345678" not in str(events) + str(snap)
            await ws.close()


async def test_reconnect_with_cursor_gets_exactly_the_missed_events(settings: Settings) -> None:
    with server_process(settings) as (url, _):
        async with Api(url) as api:
            await api.open_window("w1")
            ws = await open_live(url, DISPLAY)
            snap = await receive(ws)
            await api.issue()
            seen = await receive(ws)
            await ws.close()

            for _ in range(3):
                await api.issue()
            await api.call_next("w1")

            ws = await open_live(url, DISPLAY, cursor=seen["id"], epoch=snap["epoch"])
            resume = await receive(ws)
            assert resume == {"type": "resume", "cursor": seen["id"], "epoch": snap["epoch"]}
            missed = await receive_n(ws, 4)
            assert [e["type"] for e in missed] == ["ticket.issued"] * 3 + ["ticket.called"]
            assert ids(missed) == sorted(ids(missed), key=key) and key(missed[0]["id"]) > key(seen["id"])
            live = await api.issue()
            after = await receive(ws)
            assert after["type"] == "ticket.issued" and after["ticket"]["id"] == live["id"]
            await reconcile(ws, api, settings, seen["id"], missed + [after])   # replay then live: each once
            await ws.close()

            ws = await open_live(url, DISPLAY, cursor=after["id"], epoch=snap["epoch"])
            assert (await receive(ws))["type"] == "resume"
            await reconcile(ws, api, settings, after["id"], [])   # nothing missed (the marker), nothing repeated
            await ws.close()


async def test_resume_across_a_restart_and_across_instances(settings: Settings) -> None:
    with server_process(settings) as (url_a, _):
        async with Api(url_a) as api:
            await api.open_window("w2")
            ws = await open_live(url_a, DISPLAY)
            snap = await receive(ws)
            await api.issue()
            last = (await receive(ws))["id"]
            await ws.close()
    # instance A is gone; events keep happening through instance B
    with server_process(settings) as (url_b, _):
        async with Api(url_b) as api:
            made = [(await api.issue())["id"] for _ in range(3)]
            called = await api.call_next("w2")
            ws = await open_live(url_b, DISPLAY, cursor=last, epoch=snap["epoch"])
            assert (await receive(ws))["type"] == "resume"
            missed = await receive_n(ws, 4)
            assert [e["ticket"]["id"] for e in missed] == made + [called["id"]]
            await reconcile(ws, api, settings, last, missed)
            cursor = missed[-1]["id"]

            with server_process(settings) as (url_c, _):
                async with Api(url_c) as api_c:
                    # a call made through C reaches the display connected to B ...
                    await api_c.act(called["id"], "start")
                    started = await receive(ws)
                    assert started["type"] == "ticket.started" and started["ticket"]["id"] == called["id"]
                    await ws.close()
                    # ... and the display, moving from B to C, misses nothing in between
                    await api.act(called["id"], "finish")
                    nxt = await api.call_next("w2")
                    ws = await open_live(url_c, DISPLAY, cursor=started["id"], epoch=snap["epoch"])
                    assert (await receive(ws))["type"] == "resume"
                    missed = await receive_n(ws, 2)
                    assert [(e["type"], e["ticket"]["id"]) for e in missed] == [
                        ("ticket.finished", called["id"]), ("ticket.called", nxt["id"])]
                    assert key(missed[0]["id"]) > key(cursor)
                    await reconcile(ws, api_c, settings, started["id"], missed)
                    await ws.close()


async def test_reader_survives_losing_its_redis_connection(settings: Settings) -> None:
    with server_process(settings) as (url, _):
        async with Api(url) as api:
            ws = await open_live(url, DISPLAY)
            await receive(ws)
            await api.issue()
            before = await receive(ws)
            r = redis_client(settings.redis_url)
            try:
                [reader] = [c for c in await r.client_list() if c["name"] == f"{settings.key_prefix}:realtime-reader"]
                assert await r.client_kill_filter(_id=reader["id"]) == 1
            finally:
                await r.aclose()
            made = [(await api.issue())["id"] for _ in range(5)]
            got = await receive_n(ws, 5)
            assert [e["ticket"]["id"] for e in got] == made and key(got[0]["id"]) > key(before["id"])
            await reconcile(ws, api, settings, before["id"], got)
            # on a new connection: counted by the reader when the kill cut its read, or made by the
            # client's own retry when the kill came between two reads (seen in CI under load)
            r = redis_client(settings.redis_url)
            try:
                now = [c for c in await r.client_list() if c["name"] == f"{settings.key_prefix}:realtime-reader"]
            finally:
                await r.aclose()
            assert (await api.status())["reader_reconnects"] >= 1 or (now and reader["id"] not in [c["id"] for c in now])
            await ws.close()
