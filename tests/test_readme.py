"""The README's two set-up commands, run in a fresh clone with a fresh virtual environment and no
services configured (embedded Redis and PostgreSQL): ./dev test on a slice that touches every real
part — the rules, Redis and its scripts, the record in PostgreSQL, the HTTP app, a server process
driven by Chromium, the compose file, the benchmark's arithmetic — then ./dev demo."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from queue_server.embedded import free_port
from tests.browser import in_ci
from tests.support import ROOT, redis_answers

pytestmark = pytest.mark.skipif(os.environ.get("QS_INSIDE_README_TEST") == "1", reason="already inside the README test")


CLONE_SLICE = ["tests/domain", "tests/engine/test_lifecycle.py", "tests/record/test_rebuild.py",
               "tests/api/test_openapi.py", "tests/evaluation/test_page.py", "tests/test_compose.py",
               "tests/loadtests/test_summary.py"]


def readme_commands() -> list[str]:
    block = re.search(r"## Set-up.*?```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README has a Set-up block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_exactly_two_commands() -> None:
    assert readme_commands() == ["./dev demo", "./dev test"]


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_fresh_clone_demo_and_tests(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "VIRTUAL_ENV")}
    env["QS_INSIDE_README_TEST"] = "1"
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if ".venv" not in p)

    tests = subprocess.run(["./dev", "test", "-q", *CLONE_SLICE], cwd=clone, env=env, capture_output=True, text=True,
                           timeout=900)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    summary = tests.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary), summary
    assert not in_ci() or "skipped" not in summary, summary      # in CI nothing of the slice may skip

    port = free_port()
    demo = subprocess.Popen(["./dev", "demo", "--port", str(port)], cwd=clone, env={**env, "QUEUE_DATA_DIR": str(tmp_path / "data")},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert demo.stdout is not None
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            out.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(out)
        assert f"http://127.0.0.1:{port}/api/v1/centers" in text, text
        redis_url = re.search(r"embedded Redis\s+(\S+)", text).group(1)   # type: ignore[union-attr]
        ready_by = time.monotonic() + 60
        while not ready(port):
            assert time.monotonic() < ready_by, "the demo never became ready"
            time.sleep(0.2)
        centers = httpx.get(f"http://127.0.0.1:{port}/api/v1/centers").json()["centers"]
        assert len(centers) == 14
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(60)
    assert not redis_answers(redis_url), "the embedded Redis outlived the demo"
