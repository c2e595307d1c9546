"""The CLI against the real services: migrate, and a staff token that then works on the API; the demo
as a person runs it in a terminal: stopped with Ctrl-C, or started on a port already taken."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import asyncpg
import httpx
import pytest

from queue_server.config import Settings
from queue_server.embedded import free_port
from tests.support import ROOT, redis_answers, running_app


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



async def test_cli_assistant_token_is_bound_to_its_point(settings: Settings) -> None:
    env = {**os.environ, "REDIS_URL": settings.redis_url, "DATABASE_URL": settings.database_url}
    run = [sys.executable, "-m", "queue_server", "token", "assistant", "jingansi"]
    refused = subprocess.run(run, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "--point" in refused.stderr
    made = subprocess.run([*run, "--point", "sp1", "--label", "华山 帮办员"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assistant = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    async with running_app(settings) as (app, client):
        assert (await client.get("/api/v1/points/jingansi-sp1/queue", headers=assistant)).status_code == 200
        assert (await client.get("/api/v1/points/jingansi-sp2/queue", headers=assistant)).status_code == 403
        with pytest.raises(asyncpg.CheckViolationError):   # the record itself keeps an assistant at a point
            await app.state.pool.execute("INSERT INTO tokens (token_hash, role, center) VALUES ('x', 'assistant', 'jingansi')")

def _demo_env(data: Path, **extra: str) -> dict[str, str]:
    """The environment of ``queue-server demo`` on a fresh machine: no service URLs, its own data folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "PORT", "QUEUE_ADMIN_TOKEN")}
    return {**env, "QUEUE_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1", **extra}


def test_ctrl_c_stops_the_demo_quietly_app_first_then_its_services(tmp_path: Path) -> None:
    """Ctrl-C in a terminal is SIGINT to the whole process group, embedded services included: the
    app must still be the first to stop (no consumer loses Redis under it), then the services."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "queue_server", "demo", "--port", str(port), "--open-all-hours"],
                            env=_demo_env(tmp_path / "data"), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            if line.startswith("Ctrl-C"):
                break
        redis_url = re.search(r"embedded Redis\s+(\S+)", "".join(out)).group(1)  # type: ignore[union-attr]
        assert redis_answers(redis_url)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/readyz", timeout=2) as ready:
                if ready.status == 200:
                    break
            assert time.monotonic() < deadline and proc.poll() is None, "the demo did not become ready"
            time.sleep(0.2)
        with httpx.Client(base_url=base, headers={"Authorization": "Bearer demo-admin-token"}, timeout=10) as client:
            for _ in range(3):
                assert client.post("/api/v1/centers/jingansi/tickets", json={"matter": "hrss-001"}).status_code == 201
        time.sleep(1)            # the persister and the residents' notices are blocked reading Redis now
        os.killpg(proc.pid, signal.SIGINT)
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "step failed" not in err, err
    assert not redis_answers(redis_url), "the embedded Redis outlived the demo"
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists(), "the embedded PostgreSQL outlived the demo"


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_taken_port_is_said_before_anything_starts(tmp_path: Path, command: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "queue_server", command], env=_demo_env(tmp_path / "data", PORT=str(port)),
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"port {port}" in done.stderr and "--port" in done.stderr and "PORT=" in done.stderr, done.stderr
    assert "http://" not in done.stdout and "Traceback" not in done.stderr, (done.stdout, done.stderr)
    assert not (tmp_path / "data").exists(), "nothing is started for a server that cannot listen"
