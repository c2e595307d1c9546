"""``queue-server calendar FILE``: the operator's file stored whole, or (a mistake) not at all, with
the mistake's place named."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from queue_server.config import Settings
from tests.support import ROOT


def store(settings: Settings, path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "REDIS_URL": settings.redis_url or "", "DATABASE_URL": settings.database_url or "",
           "QUEUE_KEY_PREFIX": settings.key_prefix}
    return subprocess.run([sys.executable, "-m", "queue_server", "calendar", str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


async def test_the_file_is_stored_whole_or_not_at_all(settings: Settings, tmp_path: Path) -> None:
    good = tmp_path / "calendar.toml"
    good.write_text('[official]\nholidays = ["2027-01-01"]\nworkdays = ["2027-02-07"]\n\n'
                    '[[closed]]\ncenter = "jingansi"\nfrom = "2026-12-24"\nto = "2026-12-25"\nreason = "装修"\n\n'
                    '[[hours]]\ncenter = "jingansi"\npoint = "sp2"\nalways_open = true\n', encoding="utf-8")
    done = store(settings, good)
    assert done.returncode == 0, done.stderr
    assert '{"official": 2, "closed": 1, "hours": 1}' in done.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text('[[closed]]\ncenter = "jingansi"\nfrom = "2026-12-31"\n\n'
                   '[[closed]]\ncenter = "nowhere"\nfrom = "2026-12-31"\n', encoding="utf-8")
    refused = store(settings, bad)
    assert refused.returncode != 0 and "closed.center: unknown center 'nowhere' (nothing stored)" in refused.stderr
    backwards = tmp_path / "backwards.toml"
    backwards.write_text('[[closed]]\nfrom = "2026-12-31"\nhours = ["11:30", "08:30"]\n', encoding="utf-8")
    refused = store(settings, backwards)
    assert refused.returncode != 0 and "closed[1].hours: closes at 08:30 before it opens at 11:30" in refused.stderr

    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch("SELECT center, first_day::text, last_day::text, reason FROM calendar_entries")
        assert [tuple(r) for r in rows] == [("jingansi", "2026-12-24", "2026-12-25", "装修")]   # the good file, still
        assert await conn.fetchval("SELECT count(*) FROM calendar_official") == 2
        assert json.loads(await conn.fetchval("SELECT hours FROM point_hours WHERE center = 'jingansi' AND point = 'sp2'")) == \
            {"weekdays": None, "weekends_holidays": None, "always_open": True}
    finally:
        await conn.close()
