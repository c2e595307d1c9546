"""Residents' settings: environment variables, overridden per app by ``Settings.extra`` (same names)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from queue_server.config import Settings


@dataclass(frozen=True)
class ResidentsConfig:
    code_ttl_s: int = 300                 # a code works this long after it was sent
    code_attempts: int = 5                # wrong codes allowed; the last kills the code
    code_gap_s: int = 60                  # one code request per number per this long
    codes_per_number_per_hour: int = 5
    codes_per_address_per_hour: int = 20
    near_ahead: int = 3                   # "your turn is near" when this many or fewer are ahead
    near_ahead_by_center: dict[str, int] = field(default_factory=dict)
    # Whose tickets get "turn is near" and "called" SMS: residents away from the hall (remote) by
    # default; a kiosk's resident in the hall sees the display. Any channels, given their phone.
    notice_channels: frozenset[str] = frozenset({"remote"})
    check_in_grace_s: int = 300           # a called remote ticket not checked in by then is a no-show
    called_sms_max_age_s: int = 600       # a call older than this (a consumer far behind) gets no SMS
    tick_s: float = 1.0                   # how often the check-in grace is looked at
    consumer_block_ms: int = 1000

    def near_for(self, center: str) -> int:
        return self.near_ahead_by_center.get(center, self.near_ahead)

    @classmethod
    def from_settings(cls, settings: Settings) -> "ResidentsConfig":
        env = {**os.environ, **settings.extra}

        def num(name: str, default: float) -> float:
            raw = env.get(name, "")
            return float(raw) if raw.strip() else default

        by_center: dict[str, int] = {}
        for part in env.get("QUEUE_TURN_NEAR_AHEAD_BY_CENTER", "").split(","):
            if part.strip():
                center, _, n = part.partition("=")
                if not n.strip().isdigit():
                    raise ValueError("QUEUE_TURN_NEAR_AHEAD_BY_CENTER is center=N,center=N (N a whole number)")
                by_center[center.strip()] = int(n)
        return cls(
            code_ttl_s=int(num("QUEUE_RESIDENT_CODE_TTL_S", 300)),
            code_attempts=int(num("QUEUE_RESIDENT_CODE_ATTEMPTS", 5)),
            code_gap_s=int(num("QUEUE_RESIDENT_CODE_GAP_S", 60)),
            codes_per_number_per_hour=int(num("QUEUE_RESIDENT_CODES_PER_NUMBER_PER_HOUR", 5)),
            codes_per_address_per_hour=int(num("QUEUE_RESIDENT_CODES_PER_ADDRESS_PER_HOUR", 20)),
            near_ahead=int(num("QUEUE_TURN_NEAR_AHEAD", 3)),
            near_ahead_by_center=by_center,
            notice_channels=frozenset(c.strip() for c in env.get("QUEUE_TURN_NOTICE_CHANNELS", "remote").split(",")
                                      if c.strip()),
            check_in_grace_s=int(num("QUEUE_REMOTE_CHECK_IN_GRACE_S", 300)),
            called_sms_max_age_s=int(num("QUEUE_CALLED_SMS_MAX_AGE_S", 600)),
            tick_s=num("QUEUE_RESIDENTS_TICK_S", 1.0),
            consumer_block_ms=int(num("QUEUE_RESIDENTS_CONSUMER_BLOCK_MS", 1000)),
        )
