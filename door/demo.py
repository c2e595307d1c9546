"""Door-to-door demo data: the district's list (the catalog's door-to-door matters), a visiting roster
at every demo center, and at jingansi a few cases in various stages — one of them overdue — with
their histories. Loaded once (nothing is added when the district's list exists)."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import asyncpg

from queue_server.record.personal import DEMO_KEY, PersonalData, mask, parse_key

DISTRICT_LIST = [{"matter": "mi-004", "difficulty": "simple"}, {"matter": "ca-002", "difficulty": "simple"},
                 {"matter": "dpf-001", "difficulty": "complex"}, {"matter": "dpf-003", "difficulty": "complex"}]
ROSTER = [("s01", "张敏", "staff"), ("s02", "李伟", "staff"), ("s03", "王静", "staff"), ("c01", "周丽（养老顾问）", "consultant"), ("v01", "赵强（志愿者）", "volunteer")]
CENTER = "jingansi"
# name, phone, address, reason, source, matter, stage, days ago discovered
CASES = [
    ("李桂英", "13900001001", "静安区常德路800弄3号302室", "elderly", "committee", "mi-004", "discovered", 1),
    ("张建国", "13900001002", "静安区胶州路501号1201室", "disability", "hotline", "dpf-001", "approved", 3),
    ("王秀兰", "13900001003", "静安区延平路121弄5号", "limited_mobility", "grid", "ca-002", "scheduled", 4),
    ("陈志强", "13900001004", "静安区康定路1000号601室", "serious_illness", "outreach", "dpf-003", "tracking", 25),
    ("刘美华", "13900001005", "静安区武定路300弄2号", "elderly", "online", "ca-002", "closed", 20),
]


async def load(conn: asyncpg.Connection, centers: list[str]) -> None:
    if await conn.fetchval("SELECT 1 FROM door_lists WHERE scope = 'district'"):
        return
    now = datetime.now(timezone.utc)
    await conn.execute("INSERT INTO door_lists (scope, version, items, note, changed_by, changed_at)"
                       " VALUES ('district', 1, $1::jsonb, '区级上门帮办事项清单 District list', 'admin', $2)",
                       json.dumps(DISTRICT_LIST), now)
    await conn.executemany("INSERT INTO door_visitors (id, center, name, kind) VALUES ($1, $2, $3, $4)"
                           " ON CONFLICT DO NOTHING",
                           [(f"{c}-{code}", c, name, kind) for c in centers for code, name, kind in ROSTER])
    if CENTER in centers:
        personal = PersonalData(parse_key(os.environ.get("QUEUE_PERSONAL_DATA_KEY") or DEMO_KEY))
        for case in CASES:
            await _case(conn, personal, now, *case)


async def _case(conn: asyncpg.Connection, personal: PersonalData, now: datetime, name: str, phone: str, address: str, reason: str,
                source: str, matter: str, stage: str, days_ago: int) -> None:
    found = now - timedelta(days=days_ago)
    reviewed = found + timedelta(days=1) if stage != "discovered" else None
    visited = found + timedelta(days=3) if stage in ("tracking", "closed") else None
    done = found + timedelta(days=12) if stage == "closed" else None
    complex_ = matter.startswith("dpf")
    key = personal.lookup(phone)
    case_id = await conn.fetchval(
        "INSERT INTO door_cases (center, resident_key, resident_name, phone_sealed, phone_masked, address, reason,"
        " source, stage, list_versions, discovered_at, reviewed_at, visited_at, approvals_done_at, closed_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $14, $15) RETURNING id",
        CENTER, key, name, personal.seal(phone), mask(phone), address, reason, source, stage,
        json.dumps({"district": 1}) if reviewed else None, found, reviewed, visited, done,
        done or visited or reviewed or found)
    approval = "approved" if stage == "closed" else "in_review" if stage == "tracking" else None
    expected = (visited + timedelta(days=20)).date() if visited else None
    # the tracked case is overdue, and was reminded of it already: a server started on the demo data
    # raises nothing new
    reminded = datetime.combine(expected + timedelta(days=1), datetime.min.time(), timezone.utc) \
        if expected and stage == "tracking" else None
    await conn.execute(
        "INSERT INTO door_case_matters (case_id, matter, resident_key, open, difficulty, approval, expected_by,"
        " overdue_reminded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", case_id, matter, key, stage != "closed",
        ("complex" if complex_ else "simple") if reviewed else None, approval, expected, reminded)
    await conn.execute("INSERT INTO door_discoveries (case_id, source, reported_by, reported_at, matters)"
                       " VALUES ($1, $2, 'jingansi-s01', $3, $4)", case_id, source, found, [matter])
    steps = [("discover", None, "discovered", found, "jingansi-s01", "")]
    if reviewed:
        steps.append(("approve", "discovered", "approved", reviewed, "manager:jingansi", ""))
    if stage in ("scheduled", "tracking", "closed"):
        day = (now + timedelta(days=1)).date() if stage == "scheduled" else (found + timedelta(days=3)).date()
        visitor = f"{CENTER}-s01" if complex_ else f"{CENTER}-v01"
        at = found + timedelta(days=2)
        visit_id = await conn.fetchval(
            "INSERT INTO door_visits (case_id, visitor, visit_date, slot, scheduled_by, scheduled_at) VALUES"
            " ($1, $2, $3, 'am', 'jingansi-s01', $4) RETURNING id", case_id, visitor, day, at)
        steps.append(("schedule", "approved", "scheduled", at, "jingansi-s01", ""))
        if visited:
            await conn.execute(
                "UPDATE door_visits SET record_key = $2, arrived_at = $3, materials = $4::jsonb, accepted = true,"
                " recorded_at = $3 WHERE id = $1", visit_id, f"demo-visit-{case_id:010d}", visited,
                json.dumps([{"name": "居民身份证", "collected": True}, {"name": "户口簿", "collected": True}]))
            steps.append(("accept", "scheduled", "tracking", visited, visitor, ""))
    if reminded:
        steps.append(("approval_overdue", "tracking", "tracking", reminded, "system", ""))
    if done:
        steps.append(("approval", "tracking", "tracking", done, "jingansi-s01", ""))
        steps.append(("close", "tracking", "closed", done, "jingansi-s01", "审批已办结 approved"))
    await conn.executemany(
        "INSERT INTO door_transitions (case_id, center, at, actor, action, from_stage, to_stage, reason, announced_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $3)",
        [(case_id, CENTER, at, actor, action, frm, to, why) for action, frm, to, at, actor, why in steps])
