"""How the residents' parts know a phone number without keeping it: its keyed hash (record/personal.py),
the same for every spelling of the number (+86, spaces), in Redis key names (codes, claims, quota
counters) — useless to whoever reads Redis without the deployment's key."""
from __future__ import annotations

from starlette.datastructures import State


def number_key(state: State, phone: str) -> str:
    """The number's handle in Redis keys."""
    digest = state.personal.lookup(phone)
    assert digest is not None
    return digest.hex()[:32]
