"""The appointments' times, from the environment (``QUEUE_APPOINTMENT_*``)."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class AppointmentsConfig:
    grace_s: int = 900          # not checked in this long after the slot begins: released
    early_s: int = 1800         # check-in opens this long before the slot begins
    sweep_s: float = 30.0       # how often overdue bookings are released

    @classmethod
    def from_env(cls) -> "AppointmentsConfig":
        d = cls()
        return cls(grace_s=int(os.environ.get("QUEUE_APPOINTMENT_GRACE_S", d.grace_s)),
                   early_s=int(os.environ.get("QUEUE_APPOINTMENT_EARLY_S", d.early_s)),
                   sweep_s=float(os.environ.get("QUEUE_APPOINTMENT_SWEEP_S", d.sweep_s)))
