"""Ops settings from the environment, overridden per app by ``Settings.extra`` (same names), so tests
and several apps in one process can differ without touching the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import Settings


@dataclass(frozen=True)
class OpsConfig:
    service_level_s: int = 900        # a ticket called within this long after issue meets the service level
    update_interval_s: float = 0.5    # at most this often an ops socket gets an update (2 a second)
    refresh_s: float = 10.0           # time-dependent figures (last hour, longest wait) recomputed this often
    poll_s: float = 5.0               # device presence and persister lag read this often
    device_online_s: int = 90         # a device heard from within this long counts as online
    ping_s: float = 15.0              # ping an ops socket after this much silence
    socket_queue: int = 64            # updates waiting for one ops socket before it is dropped
    warming_every_s: float = 1.0      # a dashboard waiting for the figures' warm-up is told its progress this often

    @classmethod
    def from_settings(cls, settings: Settings) -> "OpsConfig":
        env = {**os.environ, **settings.extra}
        d = cls()

        def num(name: str, default: float) -> float:
            raw = env.get(name, "")
            return float(raw) if raw.strip() else default

        target = int(num("QUEUE_SERVICE_LEVEL_TARGET_S", d.service_level_s))
        if target <= 0:
            raise ValueError("QUEUE_SERVICE_LEVEL_TARGET_S must be a positive number of seconds")
        return cls(
            service_level_s=target,
            update_interval_s=num("QUEUE_OPS_UPDATE_INTERVAL_S", d.update_interval_s),
            refresh_s=num("QUEUE_OPS_REFRESH_S", d.refresh_s),
            poll_s=num("QUEUE_OPS_POLL_S", d.poll_s),
            device_online_s=int(num("QUEUE_OPS_DEVICE_ONLINE_S", d.device_online_s)),
            ping_s=num("QUEUE_OPS_PING_S", d.ping_s),
            warming_every_s=num("QUEUE_OPS_WARMING_EVERY_S", d.warming_every_s),
        )
