"""The CLI against the real services: migrate, and a staff token that then works on the API."""
from __future__ import annotations

import os
import subprocess
import sys

from queue_server.config import Settings
from tests.support import ROOT, running_app


async def test_cli_migrate_and_token(settings: Settings) -> None:
    env = {**os.environ, "REDIS_URL": settings.redis_url, "DATABASE_URL": settings.database_url}
    migrated = subprocess.run([sys.executable, "-m", "queue_server", "migrate"], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert migrated.returncode == 0, migrated.stderr
    made = subprocess.run([sys.executable, "-m", "queue_server", "token", "staff", "jingansi", "--window", "w3",
                           "--staff", "jingansi-s03"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("qs_")
    async with running_app(settings) as (app, client):
        staff = {"Authorization": f"Bearer {token}"}
        opened = await client.post("/api/v1/centers/jingansi/windows/w3/open", headers=staff)
        assert opened.status_code == 200 and opened.json()["staff_id"] == "jingansi-s03"
        assert (await client.post("/api/v1/centers/jingansi/windows/w3/call-next", headers=staff)).status_code == 204
        assert (await client.post("/api/v1/centers/jingansi/windows/w4/call-next", headers=staff)).status_code == 403
