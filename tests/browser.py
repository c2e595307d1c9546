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


def skip_without_chromium() -> None:
    """Skip the calling test module when Debian's chromium is not installed (./dev test installs it as root)."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (./dev test does) to run the browser tests",
                    allow_module_level=True)
