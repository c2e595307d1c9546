"""Tokens and staff in PostgreSQL. Tokens are stored only as their SHA-256; the secret is shown once."""
from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from ..config import Settings
from ..domain.devices import KIND_OF_CAPABILITY

LOOKUP_S = 5.0   # longest a token look-up may wait for a connection, and then for its answer


@dataclass(frozen=True)
class Principal:
    role: str  # admin | manager | staff | device | assistant | auditor
    center: str | None = None
    window: str | None = None
    staff_id: str | None = None
    device_kind: str | None = None
    label: str = ""          # what the token was made for ("hall display 2"): device presence shows it
    point: str | None = None  # a device or the assistant of a service point (its code within the center)
    device: str | None = None  # the registered device a device token belongs to (devices/)
    user: str | None = None    # the account (username) a login token belongs to (accounts/)
    expires_at: float | None = None   # when the token stops working (seconds since the epoch); None: never (the admin's)

    def may_act_in(self, center: str) -> bool:
        return self.role == "admin" or self.center == center

    @property
    def actor(self) -> str:
        """Who acted, as histories, events and the record name them: the admin, else the role with the
        account, label, staff member, point or center behind the token (the first it has)."""
        if self.role == "admin":
            return "admin"
        return f"{self.role}:{self.user or self.label or self.staff_id or self.point or self.center}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(pool: asyncpg.Pool | asyncpg.Connection, role: str, center: str | None, window: str | None = None,
                       staff_id: str | None = None, device_kind: str | None = None, label: str = "",
                       point: str | None = None, device_id: str | None = None, user_id: int | None = None,
                       lifetime_s: int | None = None) -> str:
    """A new token, living ``lifetime_s`` (by default its kind's, from the settings); a device token made
    without naming its registered device registers one of its own (kind from ``device_kind``, place from
    window and point), so every device token has a device."""
    token = f"qs_{secrets.token_urlsafe(24)}"
    digest = token_hash(token)
    if lifetime_s is None:
        lifetime_s = Settings.from_env().token_ttl_s(role, login=user_id is not None)
    async with _connection(pool) as conn, conn.transaction():
        if role == "device" and device_id is None:
            device_id = f"dv_{digest[:16]}"
            await conn.execute(
                "INSERT INTO devices (id, center, kind, window_code, point, label) VALUES ($1, $2, $3, $4, $5, $6)",
                device_id, center, KIND_OF_CAPABILITY.get(device_kind or "", "kiosk"), window, point, label)
        await conn.execute(
            "INSERT INTO tokens (token_hash, role, center, window_code, staff_id, device_kind, label, point, device_id,"
            " user_id, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(secs => $11))",
            digest, role, center, window, staff_id, device_kind, label, point, device_id, user_id, float(lifetime_s))
    return token


def _connection(pool: asyncpg.Pool | asyncpg.Connection) -> Any:
    """A pool's connection for the block, or the connection itself (already in the caller's transaction)."""
    if isinstance(pool, asyncpg.Pool):
        return pool.acquire()
    return contextlib.nullcontext(pool)


_PRINCIPAL = ("SELECT t.token_hash, t.role, t.center, t.window_code, t.staff_id, t.device_kind, t.label, t.point,"
              " t.device_id, u.username, extract(epoch FROM t.expires_at)::float8 AS expires"
              " FROM tokens t LEFT JOIN users u ON u.id = t.user_id"
              " WHERE t.revoked_at IS NULL AND t.expires_at > now()")


def _principal(r: Any) -> Principal:
    return Principal(r["role"], r["center"], r["window_code"], r["staff_id"], r["device_kind"], r["label"], r["point"],
                     r["device_id"], r["username"], r["expires"])


async def find_token(pool: asyncpg.Pool, token: str) -> Principal | None:
    """The token's principal (None when it is unknown, revoked or expired); a busy or unreachable
    database raises TimeoutError within seconds rather than holding the request (the caller answers 503)."""
    async with pool.acquire(timeout=LOOKUP_S) as conn:
        row = await conn.fetchrow(_PRINCIPAL + " AND t.token_hash = $1", token_hash(token), timeout=LOOKUP_S)
    return None if row is None else _principal(row)


async def valid_tokens(pool: asyncpg.Pool) -> dict[str, Principal]:
    """Every token neither revoked nor expired, by its hash."""
    return {r["token_hash"]: _principal(r) for r in await pool.fetch(_PRINCIPAL)}


async def revoked_since(pool: asyncpg.Pool, since: datetime | None) -> tuple[list[str], datetime]:
    """Hashes of the tokens revoked at or after ``since`` (none on the first call), and the database's
    clock now, less a second, for the next call: a revocation is never missed between two calls."""
    async with pool.acquire(timeout=LOOKUP_S) as conn:
        row = await conn.fetchrow(
            "SELECT now() - interval '1 second' AS at, CASE WHEN $1::timestamptz IS NULL THEN '{}'::text[]"
            " ELSE array(SELECT token_hash FROM tokens WHERE revoked_at >= $1) END AS hashes", since, timeout=LOOKUP_S)
    return list(row["hashes"]), row["at"]


async def expired_since(pool: asyncpg.Pool, since: datetime) -> tuple[list[str], datetime]:
    """Hashes of the tokens (not revoked) that expired after ``since`` and by now, and that now — the
    one clock of the same statement — for the next call: a token expiring between two calls is in the
    next one's answer, whenever the calls run."""
    row = await pool.fetchrow(
        "SELECT now() AS at, array(SELECT token_hash FROM tokens WHERE expires_at > $1 AND expires_at <= now()"
        " AND revoked_at IS NULL) AS hashes", since)
    return list(row["hashes"]), row["at"]


async def find_staff(pool: asyncpg.Pool, staff_id: str) -> dict[str, str] | None:
    row = await pool.fetchrow("SELECT id, center, employee_no, name, photo_url FROM staff WHERE id = $1", staff_id)
    return dict(row) if row else None
