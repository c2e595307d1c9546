"""Which queue a new ticket joins: by channel first (appointments, remote service points), then matter."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueRule:
    code: str
    prefix: str
    matters: frozenset[str]
    channels: frozenset[str]


def route(queues: list[QueueRule], matter: str, channel: str) -> QueueRule | None:
    """The first queue naming the channel, else the first naming the matter, else the first
    catch-all queue (no matters and no channels listed)."""
    for q in queues:
        if channel in q.channels:
            return q
    for q in queues:
        if matter in q.matters and not q.channels:
            return q
    for q in queues:
        if not q.matters and not q.channels:
            return q
    return None
