"""Debian's Chromium driven by Playwright, as every browser test uses it: one executable, one set of
flags (no network beyond loopback, no background services), one screenshots folder."""
from __future__ import annotations

import os
import shutil

import pytest

from tests.support import ROOT

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
SHOTS = ROOT / "test-artifacts" / "screenshots"


def in_ci() -> bool:
    """CI runners set CI=true; there a browser test that cannot run is a failure, never a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def chromium_or_skip() -> str:
    """Debian's chromium executable. Without it a browser test skips on a developer's machine
    (./dev test installs it as root) and fails in CI, so browser tests cannot vanish from CI green."""
    found = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if found:
        return found
    message = f"{CHROMIUM} is missing: install Debian's chromium (./dev test does as root) to run the browser tests"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)
