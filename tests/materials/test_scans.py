"""Scans of a ticket's materials through the API, on real Redis and PostgreSQL with the local store:
what is refused is refused before anything is stored (over the cap, a PDF sent as a JPEG, a program
sent as a PNG, a ticket of another point, a ticket not at a window); the same bytes are stored once;
a scan is reviewed once, by the ticket's clerk, and each step is a row and an event the point's
assistant socket gets; the file is served only by a valid, unexpired signed link."""
from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from queue_server.config import Settings
from tests.materials.helpers import (C, ELF, PDF, SP1, SP2, called_ticket, events, png, stored_files, token,
                                     upload, with_store)
from tests.realtime.live import open_live, receive
from tests.support import AUTH, running_app, server_process

PROBLEM = "application/problem+json"


async def _nothing_stored(app, folder: Path) -> None:  # type: ignore[no-untyped-def]
    assert stored_files(folder) == []
    assert await app.state.pool.fetchval("SELECT count(*) FROM material_scans") == 0
    assert await app.state.pool.fetchval("SELECT count(*) FROM material_blobs") == 0


async def test_refused_uploads_store_nothing(settings: Settings, tmp_path: Path) -> None:
    async with running_app(with_store(settings, tmp_path, QUEUE_MATERIALS_MAX_BYTES="20000")) as (app, client):
        a = await called_ticket(client)
        cases = [
            (dict(item=1, data=png(1, 30_000)), 413),                          # over the cap, streamed
            (dict(item=1, data=PDF, media_type="image/jpeg"), 415),             # a PDF named .jpg
            (dict(item=1, data=ELF, media_type="image/png"), 415),              # a program named .png
            (dict(item=1, data=b"GIF89a" + b"\0" * 300, media_type="image/gif"), 415),   # not a scan type
            (dict(item=1, data=b""), 422),                                      # empty
            (dict(item=9, data=png(1)), 404),                                   # not in the checklist
            (dict(item=1, data=png(1), point=SP2), 403),                        # this assistant's point is sp1
        ]
        for kwargs, status in cases:
            r = await upload(client, a, **kwargs)  # type: ignore[arg-type]
            assert r.status_code == status, (kwargs.get("media_type"), r.text)
            assert r.headers["content-type"] == PROBLEM
        # another point's assistant, at its own point's path: the ticket is not its point's
        other = await token(client, role="assistant", point="sp2")
        r = await upload(client, a, 1, png(1), point=SP2, headers=other)
        assert r.status_code == 403 and r.json()["code"] == "other_point"
        # a clerk or a device does not upload
        r = await upload(client, a, 1, png(1), headers=a.clerk)
        assert r.status_code == 403
        await _nothing_stored(app, tmp_path)
        # a ticket that is only waiting has no scans yet
        r = await client.post(f"/api/v1/points/{SP1}/tickets", json={"matter": "tu-001"}, headers=a.assistant)
        waiting = r.json()
        r = await client.post(f"/api/v1/points/{SP1}/tickets/{waiting['id']}/materials/1", content=png(1),
                              headers={**a.assistant, "Content-Type": "image/png"})
        assert r.status_code == 409
        await _nothing_stored(app, tmp_path)


async def test_same_bytes_are_stored_once_and_the_clerk_reviews_each_scan_once(settings: Settings,
                                                                                 tmp_path: Path) -> None:
    async with running_app(with_store(settings, tmp_path)) as (app, client):
        a = await called_ticket(client)
        card = png(7, 5000)
        first = await upload(client, a, 1, card)
        assert first.status_code == 201, first.text
        again = await upload(client, a, 1, card)                  # a retry: the same scan
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        other_item = await upload(client, a, 2, card)             # same bytes, another item: a row, not a file
        assert other_item.status_code == 201
        assert len(stored_files(tmp_path)) == 1
        assert await app.state.pool.fetchval("SELECT count(*) FROM material_blobs") == 1
        assert await app.state.pool.fetchval("SELECT count(*) FROM material_scans") == 2
        scan = first.json()
        assert scan["sha256"] == stored_files(tmp_path)[0].name and scan["state"] == "pending"

        # the ticket's clerk sees the checklist, and the file by its link
        r = await client.get(f"/api/v1/tickets/{a.ticket['id']}/materials", headers=a.clerk)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [i["name_en"] for i in items] == ["Resident ID card", "Trade union member card", "Medical expense invoices"]
        assert [i["to_center"] for i in items] == [False, False, True]
        url = items[0]["scans"][0]["url"]
        f = await client.get(url)
        assert f.status_code == 200 and f.content == card and f.headers["content-type"] == "image/png"
        assert "no-store" in f.headers["cache-control"]

        # reviews: a reason to reject; a clerk of another window cannot; once only
        r = await client.post(f"/api/v1/materials/scans/{scan['id']}/review", json={"decision": "rejected"},
                              headers=a.clerk)
        assert r.status_code == 422
        elsewhere = await token(client, role="staff", window="r2", staff_id=f"{C}-s02")
        r = await client.post(f"/api/v1/materials/scans/{scan['id']}/review", json={"decision": "accepted"},
                              headers=elsewhere)
        assert r.status_code == 403
        r = await client.post(f"/api/v1/materials/scans/{scan['id']}/review", json={"decision": "accepted"},
                              headers=a.assistant)
        assert r.status_code == 403
        results = await asyncio.gather(*[client.post(
            f"/api/v1/materials/scans/{scan['id']}/review", json={"decision": "rejected", "reason": f"模糊 {i}"},
            headers=a.clerk) for i in range(4)])
        assert sorted(r.status_code for r in results) == [200, 409, 409, 409]
        won = next(r for r in results if r.status_code == 200).json()
        assert won["state"] == "rejected" and won["reason"].startswith("模糊")
        kinds = [(e["type"], e["scan"]["id"], e["ticket"]["service_point"]) for e in await events(app, "material.")]
        assert kinds == [("material.uploaded", scan["id"], "sp1"), ("material.uploaded", scan["id"], "sp1"),
                         ("material.uploaded", other_item.json()["id"], "sp1"), ("material.reviewed", scan["id"], "sp1")]


async def test_scans_are_seen_only_by_the_tickets_people_and_by_signed_links(settings: Settings,
                                                                            tmp_path: Path) -> None:
    async with running_app(with_store(settings, tmp_path, QUEUE_MATERIALS_LINK_TTL_S="60")) as (app, client):
        a = await called_ticket(client)
        scan = (await upload(client, a, 1, png(3))).json()
        path = f"/api/v1/tickets/{a.ticket['id']}/materials"
        for who, status in [(a.assistant, 200), (a.clerk, 200), (AUTH, 200),
                            (await token(client, role="manager"), 200),
                            (await token(client, role="auditor"), 200),
                            (await token(client, role="staff", staff_id=f"{C}-s03"), 403),      # no window
                            (await token(client, role="assistant", point="sp2"), 403),
                            (await token(client, role="staff", window="r2", staff_id=f"{C}-s02"), 403),
                            (await token(client, role="device", device_kind="display"), 403)]:
            assert (await client.get(path, headers=who)).status_code == status
        assert (await client.get(path)).status_code == 401
        auditor = await token(client, role="auditor")
        r = await client.post(f"/api/v1/materials/scans/{scan['id']}/review", json={"decision": "accepted"}, headers=auditor)
        assert r.status_code == 403                                  # auditors read, never decide
        url = scan["url"]
        q = parse_qs(urlsplit(url).query)
        base = urlsplit(url).path
        assert (await client.get(url)).status_code == 200
        for bad in [f"{base}?expires={q['expires'][0]}&sig={'0' * 64}",
                    f"{base}?expires={int(q['expires'][0]) + 1}&sig={q['sig'][0]}",
                    f"{base}?expires=1&sig={q['sig'][0]}", base]:
            r = await client.get(bad)
            assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
        app.state.clock = _Later(app.state.clock, 61_000)
        assert (await client.get(url)).status_code == 403          # expired


class _Later:
    def __init__(self, clock, ms: int) -> None:  # type: ignore[no-untyped-def]
        self.clock, self.ms = clock, ms

    def now_ms(self) -> int:
        return self.clock.now_ms() + self.ms


async def _next(ws, kind: str) -> dict:  # type: ignore[no-untyped-def]
    while (msg := await receive(ws))["type"] != kind:
        pass
    return msg


async def test_the_assistant_socket_gets_the_review_live(settings: Settings, tmp_path: Path) -> None:
    with server_process(settings, extra_env={"QUEUE_MATERIALS_DIR": str(tmp_path)}) as (url, _):
        async with httpx.AsyncClient(base_url=url) as http:
            a = await called_ticket(http)
            async with await open_live(url, f"/ws/points/{SP1}/assistant", token=a.assistant["Authorization"][7:]) as ws:
                await _next(ws, "snapshot")
                scan = (await upload(http, a, 1, png(11))).json()
                got = await _next(ws, "material.uploaded")
                assert got["scan"]["id"] == scan["id"]
                r = await http.post(f"/api/v1/materials/scans/{scan['id']}/review",
                                    json={"decision": "rejected", "reason": "反光看不清 glare"}, headers=a.clerk)
                assert r.status_code == 200, r.text
                got = await _next(ws, "material.reviewed")
                assert got["scan"]["reason"] == "反光看不清 glare" and got["scan"]["state"] == "rejected"
                assert "phone" not in got["ticket"]
