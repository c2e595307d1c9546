"""The collector's thresholds: the measured default, or the environment's."""
from __future__ import annotations

import gc

from queue_server.gc_freeze import THRESHOLD, threshold


def test_thresholds_default_to_the_measured_ones_or_the_setting() -> None:
    assert threshold("") == THRESHOLD == (10_000, 10, 10)
    assert threshold("700,10,10") == (700, 10, 10)
    gc.set_threshold(*threshold(""))   # what every server process does at start
    assert gc.get_threshold() == THRESHOLD
