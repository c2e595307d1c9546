"""Limits of the live sockets, read from the environment (``QUEUE_WS_*``) so tests and load runs can
tighten them without touching the shared Settings."""
from __future__ import annotations

import os
from dataclasses import dataclass


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass(frozen=True)
class RealtimeConfig:
    queue_max: int = 1_000          # messages waiting for one socket before it is dropped
    stall_s: float = 10.0           # one send blocked this long drops the socket
    ping_s: float = 15.0            # app-level ping after this much silence
    block_ms: int = 2_000           # XREAD BLOCK; the reader's client has no socket timeout
    gather_ms: int = 20             # after a short read, wait this long so the next XREAD brings a batch
    epoch_check_s: float = 5.0      # how often the reader looks for a Redis that lost its data
    follow_grace_s: float = 60.0    # a center's stream is read this long after its last socket here went
    replay_max: int = 20_000        # a resume missing more than this gets a (cheaper) fresh snapshot
    max_in_bytes: int = 4_096       # client messages above this close the socket with 1009
    abuse_limit: int = 20           # invalid client messages tolerated before closing with 1008
    presence_flush_s: float = 2.0   # device presence is written to Redis in batches this often
    send_buffer: int = 128 * 1024   # kernel send buffer per socket (SO_SNDBUF), so a frozen client stalls soon
    anonymous_per_address: int = 20  # tokenless sockets (status pages) open at once from one address

    @classmethod
    def from_env(cls) -> "RealtimeConfig":
        d = cls()
        return cls(
            queue_max=int(_float("QUEUE_WS_QUEUE_MAX", d.queue_max)),
            stall_s=_float("QUEUE_WS_STALL_S", d.stall_s),
            ping_s=_float("QUEUE_WS_PING_S", d.ping_s),
            block_ms=int(_float("QUEUE_WS_BLOCK_MS", d.block_ms)),
            gather_ms=int(_float("QUEUE_WS_GATHER_MS", d.gather_ms)),
            epoch_check_s=_float("QUEUE_WS_EPOCH_CHECK_S", d.epoch_check_s),
            follow_grace_s=_float("QUEUE_WS_FOLLOW_GRACE_S", d.follow_grace_s),
            replay_max=int(_float("QUEUE_WS_REPLAY_MAX", d.replay_max)),
            send_buffer=int(_float("QUEUE_WS_SEND_BUFFER", d.send_buffer)),
            anonymous_per_address=int(_float("QUEUE_WS_ANONYMOUS_PER_ADDRESS", d.anonymous_per_address)),
        )
