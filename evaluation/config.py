"""Evaluation settings: environment variables, overridden per app by ``Settings.extra`` (same names),
so tests and several apps in one process can differ without touching the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass

from queue_server.config import Settings


@dataclass(frozen=True)
class EvalConfig:
    tablet_window_s: int = 600            # the tablet may rate a ticket this long after it finished
    sms_delay_s: int = 300                # SMS prompt this long after finishing, unless rated by then
    reminder_days: int = 0                # 0: no reminder SMS
    unrated_days: int = 7                 # after this a ticket without a rating counts as unrated
    default_level: int | None = None      # level applied to unrated tickets (None: none applied)
    link_ttl_h: int = 168                 # web review links expire after this
    deadlines: tuple[int, int, int] = (1, 5, 15)  # working days to contact, resolve, rectify
    tick_s: float = 15.0                  # period of the deadline / unrated sweep
    sms_poll_s: float = 1.0               # how often the outbox looks for due messages
    sms_batch: int = 50
    sms_concurrency: int = 16
    sms_per_number_per_hour: int = 4
    sms_max_attempts: int = 5
    sms_backoff_s: int = 30
    sms_lease_s: int = 120                # a claimed message whose sender died is retried after this
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_api_base: str = "https://api.twilio.com"
    # Whether a rating's commit waits for its WAL flush before the answer: only with
    # QUEUE_DURABILITY=record. In the default mode an operation is acknowledged once Redis has it
    # (AOF everysec: a crash loses the last second), and a rating likewise once PostgreSQL has it in
    # memory (a PostgreSQL crash loses at most 3 × wal_writer_delay, 0.6 s): that flush was most of a
    # rating's time on the request path (docs/durability.md).
    commit_waits_for_flush: bool = False

    @property
    def sms_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)

    @classmethod
    def from_settings(cls, settings: Settings) -> "EvalConfig":
        env = {**os.environ, **settings.extra}

        def num(name: str, default: float) -> float:
            raw = env.get(name, "")
            return float(raw) if raw.strip() else default

        level = env.get("QUEUE_REVIEW_DEFAULT_LEVEL", "").strip()
        deadlines = tuple(int(x) for x in env.get("QUEUE_RECTIFICATION_DEADLINES", "1-5-15").split("-"))
        if len(deadlines) != 3 or not 0 < deadlines[0] <= deadlines[1] <= deadlines[2]:
            raise ValueError("QUEUE_RECTIFICATION_DEADLINES must be three rising working-day counts, e.g. 1-5-15")
        if level and int(level) not in range(1, 6):
            raise ValueError("QUEUE_REVIEW_DEFAULT_LEVEL must be 1..5 or empty")
        return cls(
            tablet_window_s=int(num("QUEUE_REVIEW_TABLET_WINDOW_S", 600)),
            sms_delay_s=int(num("QUEUE_REVIEW_SMS_DELAY_S", 300)),
            reminder_days=int(num("QUEUE_REVIEW_REMINDER_DAYS", 0)),
            unrated_days=int(num("QUEUE_REVIEW_UNRATED_DAYS", 7)),
            default_level=int(level) if level else None,
            link_ttl_h=int(num("QUEUE_REVIEW_LINK_TTL_H", 168)),
            deadlines=deadlines,  # type: ignore[arg-type]
            tick_s=num("QUEUE_EVAL_TICK_S", 15.0),
            sms_poll_s=num("QUEUE_SMS_POLL_S", 1.0),
            sms_batch=int(num("QUEUE_SMS_BATCH", 50)),
            sms_concurrency=int(num("QUEUE_SMS_CONCURRENCY", 16)),
            sms_per_number_per_hour=int(num("QUEUE_SMS_PER_NUMBER_PER_HOUR", 4)),
            sms_max_attempts=int(num("QUEUE_SMS_MAX_ATTEMPTS", 5)),
            sms_backoff_s=int(num("QUEUE_SMS_BACKOFF_S", 30)),
            sms_lease_s=int(num("QUEUE_SMS_LEASE_S", 120)),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
            twilio_from=env.get("TWILIO_FROM", ""),
            twilio_api_base=env.get("TWILIO_API_BASE_URL", "https://api.twilio.com"),
            commit_waits_for_flush=settings.durability == "record",
        )
