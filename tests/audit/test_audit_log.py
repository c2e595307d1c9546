"""The audit log: every staff, manager and admin action — done or refused — is written with who, when,
what and from where; the database refuses to change or remove an entry; readers see what their
role and center allow, filtered, paged and as Excel-safe CSV in Shanghai time; concurrent actions
are each logged once, and entries wait out a failed write."""
from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timezone
from typing import Any

import asyncpg
import orjson
import pytest

from queue_server.audit.trail import Entry, append
from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.record.people import create_token
from tests.support import AUTH, running_app

C, OTHER = "jingansi", "caojiadu"
AT = datetime(2026, 11, 30, 1, 30, tzinfo=timezone.utc)   # 09:30 in Shanghai
AGENT = {"User-Agent": "clerk-console/1.0"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **AGENT}


async def logged(app: Any, client: Any, headers: dict[str, str] = AUTH, **params: str) -> list[dict[str, Any]]:
    await app.state.audit.flush()
    r = await client.get("/api/v1/audit", params={"limit": "500", **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


async def test_actions_are_logged_with_who_when_what_where_and_outcome(settings: Settings) -> None:
    async with running_app(settings, FixedClock(AT)) as (app, client):
        pool = app.state.pool
        clerk = bearer(await create_token(pool, "staff", C, "w1", f"{C}-s01", label="w1 clerk"))
        kiosk = bearer(await create_token(pool, "device", C, None, None, "kiosk", "hall kiosk"))
        assert (await client.post(f"/api/v1/centers/{C}/windows/w1/open", json={"staff_id": f"{C}-s01"}, headers=clerk)).status_code == 200
        tid = (await client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}, headers=kiosk)).json()["id"]
        assert (await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", json={}, headers=clerk)).status_code == 200
        assert (await client.post(f"/api/v1/centers/{C}/windows/w2/pause", json={}, headers=clerk)).status_code == 403
        assert (await client.post(f"/api/v1/tickets/{tid}/start", headers=clerk)).status_code == 200
        assert (await client.post(f"/api/v1/tickets/{tid}/finish", headers=clerk)).status_code == 200
        assert (await client.post("/api/v1/tokens", json={"role": "staff", "center": C, "window": "w3"},
                                  headers={**AUTH, **AGENT})).status_code == 201

        entries = await logged(app, client)
        by_action = {e["action"]: e for e in entries}
        assert not any("/tickets" == e["action"][-8:] for e in entries)   # the kiosk's issue: a device, not staff
        finish = by_action["POST /api/v1/tickets/{id}/finish"]
        assert (finish["role"], finish["actor"], finish["center"], finish["window"], finish["outcome"]) == \
            ("staff", f"{C}-s01", C, "w1", 200)
        assert finish["target"] == {"id": tid, "action": "finish"}
        assert finish["address"] == "127.0.0.1" and finish["user_agent"] == "clerk-console/1.0"
        assert finish["at"] == "2026-11-30T09:30:00+08:00" and finish["at_local"] == "2026-11-30 09:30:00"
        assert len(finish["credential"]) == 12
        refused = by_action["POST /api/v1/centers/{center}/windows/{window}/pause"]
        assert refused["outcome"] == 403 and refused["target"] == {"center": C, "window": "w2"}
        assert by_action["POST /api/v1/centers/{center}/windows/{window}/open"]["outcome"] == 200
        assert by_action["POST /api/v1/centers/{center}/windows/{window}/call-next"]["outcome"] == 200
        token = by_action["POST /api/v1/tokens"]
        assert (token["role"], token["actor"], token["outcome"]) == ("admin", "admin", 201)
        # reading the log is itself logged
        assert any(e["action"] == "GET /api/v1/audit" for e in await logged(app, client))
        # a path as long as a URL may be is cut: a token cannot fill the log
        assert (await client.post(f"/api/v1/tickets/{C}-{'9' * 4000}/finish", headers=clerk)).status_code in (404, 422)
        long = [e for e in await logged(app, client) if e["target"].get("id", "").endswith("9")]
        assert long and len(long[0]["target"]["id"]) == 200 and long[0]["outcome"] in (404, 422)


async def test_the_database_refuses_to_change_or_remove_an_entry(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        await client.post(f"/api/v1/centers/{C}/windows/w1/open", json={"staff_id": f"{C}-s01"}, headers=AUTH)
        await app.state.audit.flush()
        pool = app.state.pool
        assert await pool.fetchval("SELECT count(*) FROM audit_log") == 1
        for sql in ("UPDATE audit_log SET outcome = 200", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await pool.execute(sql)
        assert await pool.fetchval("SELECT count(*) FROM audit_log") == 1


async def test_readers_see_their_scope_filtered_paged_and_as_csv(settings: Settings) -> None:
    async with running_app(settings, FixedClock(AT)) as (app, client):
        pool = app.state.pool
        manager = bearer(await create_token(pool, "manager", C, label="=HYPERLINK(\"http://x\")"))
        other = bearer(await create_token(pool, "manager", OTHER, label="other manager"))
        auditor = bearer(await create_token(pool, "auditor", None, label="district auditor"))
        clerk = bearer(await create_token(pool, "staff", C, "w1", f"{C}-s01"))
        for w in ("w1", "w2", "w3"):
            await client.post(f"/api/v1/centers/{C}/windows/{w}/open", json={"staff_id": f"{C}-s0{w[1]}"}, headers=manager)
        await client.post(f"/api/v1/centers/{OTHER}/windows/w1/open", json={"staff_id": f"{OTHER}-s01"}, headers=other)
        await client.post(f"/api/v1/centers/{C}/windows/w9/open", json={}, headers=manager)   # refused (no such window)

        mine = await logged(app, client, manager)
        assert mine and {e["center"] for e in mine} == {C}
        assert (await client.get(f"/api/v1/audit?center={OTHER}", headers=manager)).status_code == 403
        assert (await client.get("/api/v1/audit", headers=clerk)).status_code == 403
        everyone = await logged(app, client, auditor)
        assert {C, OTHER} <= {e["center"] for e in everyone}
        assert {e["actor"] for e in await logged(app, client, auditor, actor="other manager")} == {"other manager"}
        refused = await logged(app, client, auditor, outcome="refused", action="/open")
        assert [e["target"].get("window") for e in refused] == ["w9"]
        assert await logged(app, client, auditor, since="2026-12-01") == []
        assert len(await logged(app, client, auditor, since="2026-11-30", until="2026-11-30T09:30:00")) == 0
        assert len(await logged(app, client, auditor, since="2026-11-30", until="2026-11-30")) >= 5

        seen, cursor = [], None
        while True:
            r = await client.get("/api/v1/audit", params={"limit": "2", **({"cursor": cursor} if cursor else {})},
                                 headers=auditor)
            page = r.json()
            seen += [e["id"] for e in page["entries"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) >= 6
        for bad in ("limit=0", "limit=501", "outcome=maybe", "since=yesterday", "cursor=x", "center=nowhere",
                    "since=2026-12-02&until=2026-12-01", "since=0001-01-01T00:00:00", "cursor=99999999999999999.1",
                    "until=9999-12-31"):
            assert (await client.get(f"/api/v1/audit?{bad}", headers=auditor)).status_code in (404, 422), bad

        export = await client.get(f"/api/v1/audit.csv?center={C}", headers=auditor)
        assert export.status_code == 200 and export.text.startswith("\ufeff")
        rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
        assert rows[0][0].startswith("time (Asia/Shanghai)")
        assert any(r[2] == "'=HYPERLINK(\"http://x\")" for r in rows[1:])      # neutralised for Excel
        assert all(r[0].startswith("2026-11-30 09:30") for r in rows[1:])


async def test_concurrent_actions_are_each_logged_once(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        pool = app.state.pool
        tokens = [bearer(await create_token(pool, "staff", C, f"w{i}", f"{C}-s0{i}")) for i in range(1, 9)]

        async def toggle(i: int) -> list[int]:
            codes = []
            for state in ("open", "pause", "open", "close") * 3:
                r = await client.post(f"/api/v1/centers/{C}/windows/w{i}/{state}", json={"staff_id": f"{C}-s0{i}"},
                                      headers=tokens[i - 1])
                codes.append(r.status_code)
            return codes

        done = await asyncio.gather(*(toggle(i) for i in range(1, 9)))
        audit = app.state.audit
        await audit.flush()
        # the same batch written again (a retry after a lost acknowledgement) adds nothing
        entries = await pool.fetch("SELECT entry_id, at, role, actor, credential, center, window_code, action,"
                                   " target, outcome, address, user_agent FROM audit_log")
        await append(pool, [Entry(r["entry_id"], r["at"], r["role"], r["actor"], r["credential"], r["center"],
                                  r["window_code"], r["action"], orjson.loads(r["target"]), r["outcome"], r["address"],
                                  r["user_agent"]) for r in entries])
        assert await pool.fetchval("SELECT count(*) FROM audit_log") == sum(len(c) for c in done) == 96
        for i in range(1, 9):
            logged_codes = [r["outcome"] for r in await pool.fetch(
                "SELECT outcome FROM audit_log WHERE window_code = $1 ORDER BY at, id", f"w{i}")]
            assert sorted(logged_codes) == sorted(done[i - 1])


async def test_entries_wait_out_a_failed_write(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        audit = app.state.audit
        live = audit.pool
        away = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
        await away.close()
        audit.pool = away                     # PostgreSQL unreachable for the writer
        await client.post(f"/api/v1/centers/{C}/windows/w1/open", json={"staff_id": f"{C}-s01"}, headers=AUTH)
        await client.post(f"/api/v1/centers/{C}/windows/w1/pause", json={}, headers=AUTH)
        with pytest.raises(Exception):
            await audit.flush()
        assert len(audit.pending) == 2
        audit.pool = live
        await audit.flush()
        assert not audit.pending
        actions = [r["action"] for r in await live.fetch("SELECT action FROM audit_log ORDER BY at, id")]
        assert actions == ["POST /api/v1/centers/{center}/windows/{window}/open",
                           "POST /api/v1/centers/{center}/windows/{window}/pause"]


def test_administrators_commands_are_logged_done_or_refused(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from queue_server import cli

    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    cli.main(["token", "staff", C, "--window", "w1", "--staff", f"{C}-s01"])
    token = capsys.readouterr().out.strip().splitlines()[-1]
    with pytest.raises(SystemExit):
        cli.main(["token", "assistant", C])      # refused: an assistant needs --point

    async def rows() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await conn.fetch("SELECT role, action, center, window_code, target, outcome FROM audit_log ORDER BY id")
        finally:
            await conn.close()
    done, refused = asyncio.run(rows())
    assert (done["role"], done["action"], done["center"], done["window_code"], done["outcome"]) == \
        ("cli", "queue-server token", C, "w1", 200)
    assert orjson.loads(done["target"])["role"] == "staff" and token not in done["target"]
    assert (refused["action"], refused["outcome"]) == ("queue-server token", 400)
