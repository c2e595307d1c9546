"""The service lists: the district's and a center's additions, each change a new version that can be
read back; managed by the API (district: admin; a center's: its manager) and the CLI; a review says
which versions it checked against."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.door.conftest import C, MONDAY, Cases, phone
from tests.support import AUTH, ROOT, running_app


async def test_lists_are_versioned_and_a_center_adds_to_the_district(settings: Settings) -> None:
    clock = FixedClock(MONDAY)
    async with running_app(settings, clock) as (app, client):
        cases = Cases(app, client, clock)
        manager = await cases.token("manager")
        district = (await client.get("/api/v1/door/lists/district", headers=manager)).json()
        assert district["version"] == 1 and len(district["items"]) == 4
        # a manager adds to their own center's list, never to the district's
        own = {"items": [{"matter": "ca-003", "difficulty": "simple"}, {"matter": "mi-004", "difficulty": "complex"}],
               "note": "养老服务补贴纳入上门"}
        assert (await client.put("/api/v1/door/lists/district", json=own, headers=manager)).status_code == 403
        assert (await client.put("/api/v1/door/lists/caojiadu", json=own, headers=manager)).status_code == 403
        r = await client.put(f"/api/v1/door/lists/{C}", json=own, headers=manager)
        assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["changed_by"] == "manager:jingansi"
        listed = (await client.get(f"/api/v1/centers/{C}/door/list", headers=manager)).json()
        assert {i["matter"]: i["difficulty"] for i in listed["items"]} == {
            "mi-004": "complex", "ca-002": "simple", "dpf-001": "complex", "dpf-003": "complex", "ca-003": "simple"}
        assert listed["versions"] == {"district": 1, C: 1}
        case_id = (await cases.discover(phone(), ["ca-003"]))["case_id"]
        reviewed = (await cases.step(case_id, "review", {"decision": "approve"})).json()
        assert reviewed["list_versions"] == {"district": 1, C: 1}

        # the district drops a matter: version 2; version 1 still reads as it was
        smaller = {"items": district["items"][:3], "note": "调整"}
        r = await client.put("/api/v1/door/lists/district", json=smaller, headers=AUTH)
        assert r.json()["version"] == 2 and [v["version"] for v in r.json()["versions"]] == [2, 1]
        old = (await client.get("/api/v1/door/lists/district?version=1", headers=AUTH)).json()
        assert old["items"] == district["items"]
        assert (await client.get("/api/v1/door/lists/district?version=9", headers=AUTH)).status_code == 404
        for bad in ({"items": [{"matter": "nope", "difficulty": "simple"}]},
                    {"items": [{"matter": "mi-004", "difficulty": "simple"}] * 2},
                    {"items": [{"matter": "mi-004", "difficulty": "easy"}]}):
            r = await client.put("/api/v1/door/lists/district", json=bad, headers=AUTH)
            assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        assert (await client.get("/api/v1/door/lists/district", headers=AUTH)).json()["version"] == 2
        assert (await client.get("/api/v1/door/lists/nowhere", headers=AUTH)).status_code == 404


def test_the_cli_shows_and_sets_a_list(settings: Settings, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
           "QUEUE_KEY_PREFIX": settings.key_prefix}
    run = [sys.executable, "-m", "queue_server", "door-list"]
    shown = subprocess.run([*run, "district"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["version"] == 1
    file = tmp_path / "list.json"
    file.write_text(json.dumps([{"matter": "mi-004", "difficulty": "simple"}, {"matter": "ca-003", "difficulty": "complex"}]))
    made = subprocess.run([*run, "district", "--set", str(file), "--note", "新增养老服务补贴"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    out = json.loads(made.stdout)
    assert out["version"] == 2 and out["changed_by"] == "cli" and out["note"] == "新增养老服务补贴"
    file.write_text(json.dumps([{"matter": "nope", "difficulty": "simple"}]))
    refused = subprocess.run([*run, "district", "--set", str(file)], env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode != 0 and "unknown matter" in refused.stderr
    again = subprocess.run([*run, "district", "--version", "1"], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
    assert json.loads(again.stdout)["version"] == 1
    figures = subprocess.run([sys.executable, "-m", "queue_server", "door-figures", "--center", C], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert figures.returncode == 0, figures.stderr
    assert json.loads(figures.stdout)["by_stage"]["discovered"] >= 1
