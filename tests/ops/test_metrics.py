"""``/metrics`` of a real server process: request latency per route template (never per path), queue
operations by event type, live and ops websockets, the persister's lag, the SMS outbox, the queues and
the event loop's lag."""
from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from prometheus_client import generate_latest

from queue_server.config import Settings
from queue_server.ops.metrics import Metrics, exposition
from tests.realtime.live import open_live, receive
from tests.support import ADMIN_TOKEN, AUTH, running_app, server_process

C = "jingansi"


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition text, labels in any order."""
    for line in text.splitlines():
        m = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if m and all(f'{k}="{v}"' in m.group(1).split(",") for k, v in labels.items()):
            return float(m.group(2))
    return None


SCRAPER = "test-scraper-token"


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with server_process(settings, extra_env={"QUEUE_METRICS_TOKEN": SCRAPER}) as (url, _proc):
        yield url


async def test_metrics(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, headers=AUTH, timeout=10) as api:
        await api.post(f"/api/v1/centers/{C}/windows/w1/open", json={"staff_id": f"{C}-s01"})
        ids = [(await api.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001", "phone": "13812345678"})).json()["id"]
               for _ in range(3)]
        called = (await api.post(f"/api/v1/centers/{C}/windows/w1/call-next")).json()["ticket"]
        await api.post(f"/api/v1/tickets/{called['id']}/start")
        await api.post(f"/api/v1/tickets/{called['id']}/finish")
        for tid in ids:
            assert (await api.get(f"/api/v1/tickets/{tid}")).status_code == 200
        assert (await api.get("/nowhere/at/all")).status_code == 404
        display = (await api.post("/api/v1/tokens", json={"role": "device", "center": C, "device_kind": "display"})).json()["token"]
        live = await open_live(server, f"/ws/centers/{C}/display", display)
        ops = await open_live(server, "/ws/ops", ADMIN_TOKEN)
        assert (await receive(live))["type"] == "snapshot" and (await receive(ops))["type"] == "snapshot"

        deadline = time.monotonic() + 15
        while True:
            r = await api.get("/metrics")
            text = r.text
            if sample(text, "sms_outbox_messages", state="queued") == 1 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert r.headers["content-type"].startswith("text/plain")
        assert sample(text, "http_request_duration_seconds_count", method="GET", route="/api/v1/tickets/{id}", status="200") == 3
        assert sample(text, "http_request_duration_seconds_count", method="POST", route="/api/v1/tickets/{id}/{action}",
                      status="200") == 2
        assert sample(text, "http_request_duration_seconds_count", method="GET", route="unmatched", status="404") == 1
        assert sample(text, "http_request_duration_seconds_bucket", method="POST", route="/api/v1/centers/{center}/tickets",
                      status="201", le="+Inf") == 3
        assert not any(tid in text for tid in ids)
        assert sample(text, "queue_operations_total", type="ticket.issued") == 3
        assert sample(text, "queue_operations_total", type="ticket.finished") == 1
        assert sample(text, "queue_operations_total", type="window.opened") == 1
        assert sample(text, "websocket_connections", kind="live", center=C) == 1
        assert sample(text, "websocket_connections", kind="ops", center="district") == 1
        assert sample(text, "persister_lag_ms", center=C) is not None
        assert sample(text, "persister_unrecorded_events", center=C, state="pending") is not None
        assert sample(text, "sms_outbox_messages", state="queued") == 1
        assert sample(text, "queue_waiting_tickets", center=C) == 2
        assert sample(text, "queue_longest_wait_seconds", center=C) >= 0
        assert "13812345678" not in text
        assert sample(text, "event_loop_lag_seconds_bucket", le="+Inf") > 0      # its timer ticks
        assert sample(text, "gc_pause_seconds_count", generation="0") is not None
        await live.close()
        await ops.close()


async def test_metrics_are_for_the_scraper_and_the_admin_only(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        manager = (await client.post("/api/v1/tokens", json={"role": "manager", "center": C}, headers=AUTH)).json()["token"]
        answers = {who: await client.get("/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})
                   for who, token in [("nobody", None), ("stranger", "qs_not-a-token"), ("manager", manager),
                                      ("scraper", SCRAPER), ("admin", ADMIN_TOKEN)]}
        assert {who: r.status_code for who, r in answers.items()} == {
            "nobody": 401, "stranger": 401, "manager": 403, "scraper": 200, "admin": 200}
        assert answers["manager"].headers["content-type"].startswith("application/problem+json")
        assert "queue_operations_total" in answers["scraper"].text


async def test_a_scrape_reads_on_the_event_loop_and_is_written_from_what_it_read() -> None:
    """A gauge's owner is read once a scrape, on the event loop's thread, whose state it is (the text
    is written in another); the text is the library's own for what was read."""
    metrics = Metrics()
    waiting = {("c1",): 2.0, ("c2",): 0.0}
    readers: list[int] = []

    def read() -> dict[tuple[str, ...], float]:
        readers.append(threading.get_ident())
        return dict(waiting)

    metrics.gauge_from("queue_waiting_tickets", "Tickets waiting now", ["center"], read)
    metrics.observe_latency("GET", "/api/v1/tickets/{id}", "200", 0.003)
    expected = generate_latest(metrics.registry)
    text = await exposition(metrics.registry)
    assert readers == [threading.get_ident()] * 2
    assert text == expected
    assert sample(text.decode(), "queue_waiting_tickets", center="c1") == 2


async def test_the_records_gauges_come_from_the_processes_that_do_its_work(settings: Settings) -> None:
    """The record's lag and the SMS outbox are the same whichever process reads them: those doing the
    record's work tell them (the background tier; all and http too), the sockets and api tiers leave
    them out, and the sockets and queue gauges stay in every one."""
    for tier, records in (("sockets", False), ("api", False), ("background", True)):
        async with running_app(replace(settings, tier=tier)) as (_app, client):
            text = (await client.get("/metrics", headers=AUTH)).text
            for name in ("persister_lag_ms", "persister_unrecorded_events", "sms_outbox_messages"):
                assert (f"# TYPE {name} gauge" in text) is records, (tier, name)
            for name in ("websocket_connections", "queue_waiting_tickets", "queue_longest_wait_seconds"):
                assert f"# TYPE {name} gauge" in text, (tier, name)
