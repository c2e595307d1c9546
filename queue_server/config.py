"""Settings, read once from the environment so every process of a deployment agrees."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _at_least_one(name: str, unit: str, unset: str) -> int | None:
    """A whole number of ``unit``, at least 1; unset or empty: None (``unset`` says what that means)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of {unit} (at least 1), or unset {unset}")
    return int(value)


DURABILITY_MODES = ("redis", "record")
# What a process serves (docs/scale.md, "Tiers"): everything; the HTTP API and the background work of
# the record; the websockets and the stream reader that feeds them; or the HTTP API and the background
# work each alone ("api", "background"), so that work never takes a turn of a request's event loop.
TIERS = ("all", "http", "sockets", "api", "background")
# PostgreSQL connections a process may hold, by tier (docs/scale.md "Tiers"): the http tier carries
# every request's statement and the record's work; the sockets tier reads tokens and little else.
DB_POOL_BY_TIER = {"all": 20, "http": 40, "sockets": 5, "api": 40, "background": 10}
# The kinds of route (``tiers.tier_of``: every process's, the API's, the sockets') each tier serves.
ROUTES_BY_TIER = {"all": {"all", "http", "sockets"}, "http": {"all", "http"}, "api": {"all", "http"},
                  "sockets": {"all", "sockets"}, "background": {"all"}}


def _durability(value: str) -> str:
    if value not in DURABILITY_MODES:
        raise ValueError(f"QUEUE_DURABILITY must be one of {', '.join(DURABILITY_MODES)}, not {value!r}")
    return value


def _tier(value: str) -> str:
    if value not in TIERS:
        raise ValueError(f"QUEUE_TIER must be one of {', '.join(TIERS)}, not {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None
    database_url: str | None = None
    key_prefix: str = "qs"
    admin_token: str | None = None
    metrics_token: str | None = None   # the scraper's own bearer token for /metrics (the admin's works too)
    data_dir: Path = Path(".data")
    timezone: str = "Asia/Shanghai"
    recall_limit: int = 3
    priority_ratio_normal: int = 2
    priority_ratio_priority: int = 1
    stream_maxlen: int = 200_000        # XADD's last-resort cap; the trimmer keeps to half of it (record/trim.py)
    idempotency_ttl_s: int = 86_400
    persister_batch: int = 500
    persister_claim_idle_ms: int = 30_000
    default_handling_s: int = 600
    public_base_url: str = "http://127.0.0.1:8000"
    rate_limit_per_minute: int = 120
    clock_offset_ms: int = 0   # tests only: the processes of a test share a service day (clock.ShiftedClock)
    # When an operation is acknowledged (docs/durability.md): "redis" once its script ran, "record"
    # once its event and ticket row are in PostgreSQL too.
    durability: str = "redis"
    tier: str = "all"
    db_pool_max: int | None = None     # None: DB_POOL_BY_TIER[tier]
    background_nice: int = 5           # how many steps lower a background process runs (tiers.lower_priority)
    sockets_nice: int = 2              # and a sockets process
    # Ticket numbers reserved in PostgreSQL ahead of use, per center, day and prefix: at least this
    # many, and enough for this many seconds at the recent pace (a PostgreSQL outage that long).
    number_reserve_min: int = 100
    number_reserve_runway_s: int = 300
    # Residents' personal data at rest (record/personal.py, docs/privacy.md): the key sealing it
    # (base64, 32 bytes), keys it may still be sealed under, and how long a phone number is kept.
    personal_data_key: str | None = None
    personal_data_old_keys: tuple[str, ...] = ()
    phone_retention_days: int = 45
    # The record by month (record/partitions.py, docs/durability.md): months created ahead of this one,
    # and how many past months stay attached (None: all); older ones are detached, not dropped.
    record_partitions_ahead: int = 2
    record_retention_months: int | None = None
    # How long tokens live, by kind (docs/accounts.md): a login lasts a working day, a token made for a
    # person by an admin a month, a device's a year; an enrollment code minutes.
    login_token_ttl_s: int = 12 * 3600
    person_token_ttl_s: int = 30 * 86400
    device_token_ttl_s: int = 365 * 86400
    enrollment_code_ttl_s: int = 600
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def holds_sockets(self) -> bool:
        """This process serves the websockets, so it reads every center's stream and fans events out."""
        return "sockets" in ROUTES_BY_TIER[self.tier]

    @property
    def db_pool_size(self) -> int:
        """The most PostgreSQL connections this process holds at once."""
        return self.db_pool_max or DB_POOL_BY_TIER[self.tier]

    @property
    def answers_api(self) -> bool:
        """This process answers the HTTP API (and announces what its requests recorded)."""
        return "http" in ROUTES_BY_TIER[self.tier]

    @property
    def runs_background(self) -> bool:
        """This process runs the record's work, the consumer groups and the sweeps: the sockets tier
        leaves them to another, so a fan-out burst never delays them, nor they a fan-out; the api tier
        too, so they never delay a request."""
        return self.tier in ("all", "http", "background")

    def __post_init__(self) -> None:
        # A detached month is no longer swept by the phone retention: every phone in it must be
        # forgotten before it goes (the newest row of a detached month is at least 28 days × N old).
        if self.record_retention_months is not None and self.record_retention_months * 28 < self.phone_retention_days:
            raise ValueError(f"QUEUE_RECORD_RETENTION_MONTHS={self.record_retention_months} would detach months still"
                             f" holding phones (QUEUE_PHONE_RETENTION_DAYS={self.phone_retention_days}): keep at least"
                             f" {-(-self.phone_retention_days // 28)} months")

    def token_ttl_s(self, role: str, login: bool = False) -> int:
        """The lifetime of a new token of ``role``; ``login``: made by logging in."""
        if role == "device":
            return self.device_token_ttl_s
        return self.login_token_ttl_s if login else self.person_token_ttl_s

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(
            redis_url=env.get("REDIS_URL") or None,
            database_url=env.get("DATABASE_URL") or None,
            key_prefix=env.get("QUEUE_KEY_PREFIX", "qs"),
            admin_token=env.get("QUEUE_ADMIN_TOKEN") or None,
            metrics_token=env.get("QUEUE_METRICS_TOKEN") or None,
            data_dir=Path(env.get("QUEUE_DATA_DIR", ".data")),
            recall_limit=_int("QUEUE_RECALL_LIMIT", 3),
            priority_ratio_normal=_int("QUEUE_PRIORITY_RATIO_NORMAL", 2),
            priority_ratio_priority=_int("QUEUE_PRIORITY_RATIO_PRIORITY", 1),
            stream_maxlen=_int("QUEUE_STREAM_MAXLEN", 200_000),
            persister_batch=_int("QUEUE_PERSISTER_BATCH", 500),
            persister_claim_idle_ms=_int("QUEUE_PERSISTER_CLAIM_IDLE_MS", 30_000),
            public_base_url=env.get("QUEUE_PUBLIC_BASE_URL", "http://127.0.0.1:8000"),
            rate_limit_per_minute=_int("QUEUE_RATE_LIMIT_PER_MINUTE", 120),
            clock_offset_ms=_int("QUEUE_CLOCK_OFFSET_MS", 0),
            durability=_durability(env.get("QUEUE_DURABILITY", "redis")),
            tier=_tier(env.get("QUEUE_TIER", "all")),
            db_pool_max=_at_least_one("QUEUE_DB_POOL_MAX", "connections", "for the tier's default"),
            background_nice=_int("QUEUE_BACKGROUND_NICE", 5),
            sockets_nice=_int("QUEUE_SOCKETS_NICE", 2),
            number_reserve_min=_int("QUEUE_NUMBER_RESERVE_MIN", 100),
            number_reserve_runway_s=_int("QUEUE_NUMBER_RESERVE_RUNWAY_S", 300),
            personal_data_key=env.get("QUEUE_PERSONAL_DATA_KEY") or None,
            personal_data_old_keys=tuple(k for k in env.get("QUEUE_PERSONAL_DATA_OLD_KEYS", "").split(",") if k.strip()),
            phone_retention_days=_int("QUEUE_PHONE_RETENTION_DAYS", 45),
            record_partitions_ahead=_int("QUEUE_RECORD_PARTITIONS_AHEAD", 2),
            record_retention_months=_at_least_one("QUEUE_RECORD_RETENTION_MONTHS", "months", "to keep every month"),
            login_token_ttl_s=_int("QUEUE_LOGIN_TOKEN_TTL_S", 12 * 3600),
            person_token_ttl_s=_int("QUEUE_PERSON_TOKEN_TTL_S", 30 * 86400),
            device_token_ttl_s=_int("QUEUE_DEVICE_TOKEN_TTL_S", 365 * 86400),
            enrollment_code_ttl_s=_int("QUEUE_ENROLLMENT_CODE_TTL_S", 600),
        )
