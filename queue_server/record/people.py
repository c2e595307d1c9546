"""Tokens and staff in PostgreSQL. Tokens are stored only as their SHA-256; the secret is shown once."""
from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from ..domain.devices import KIND_OF_CAPABILITY

LOOKUP_S = 5.0   # longest a token look-up may wait for a connection, and then for its answer


@dataclass(frozen=True)
class Principal:
    role: str  # admin | manager | staff | device | assistant
    center: str | None = None
    window: str | None = None
    staff_id: str | None = None
    device_kind: str | None = None
    label: str = ""          # what the token was made for ("hall display 2"): device presence shows it
    point: str | None = None  # a device or the assistant of a service point (its code within the center)
    device: str | None = None  # the registered device a device token belongs to (devices/)

    def may_act_in(self, center: str) -> bool:
        return self.role == "admin" or self.center == center


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(pool: asyncpg.Pool | asyncpg.Connection, role: str, center: str, window: str | None = None,
                       staff_id: str | None = None, device_kind: str | None = None, label: str = "",
                       point: str | None = None, device_id: str | None = None) -> str:
    """A new token; a device token made without naming its registered device registers one of its own
    (kind from ``device_kind``, place from window and point), so every device token has a device."""
    token = f"qs_{secrets.token_urlsafe(24)}"
    digest = token_hash(token)
    async with _connection(pool) as conn, conn.transaction():
        if role == "device" and device_id is None:
            device_id = f"dv_{digest[:16]}"
            await conn.execute(
                "INSERT INTO devices (id, center, kind, window_code, point, label) VALUES ($1, $2, $3, $4, $5, $6)",
                device_id, center, KIND_OF_CAPABILITY.get(device_kind or "", "kiosk"), window, point, label)
        await conn.execute(
            "INSERT INTO tokens (token_hash, role, center, window_code, staff_id, device_kind, label, point, device_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            digest, role, center, window, staff_id, device_kind, label, point, device_id)
    return token


def _connection(pool: asyncpg.Pool | asyncpg.Connection) -> Any:
    """A pool's connection for the block, or the connection itself (already in the caller's transaction)."""
    if isinstance(pool, asyncpg.Pool):
        return pool.acquire()
    return contextlib.nullcontext(pool)


async def find_token(pool: asyncpg.Pool, token: str) -> Principal | None:
    """The token's principal; a busy or unreachable database raises TimeoutError within seconds
    rather than holding the request (the caller answers 503)."""
    async with pool.acquire(timeout=LOOKUP_S) as conn:
        row = await conn.fetchrow(
            "SELECT role, center, window_code, staff_id, device_kind, label, point, device_id FROM tokens"
            " WHERE token_hash = $1 AND revoked_at IS NULL", token_hash(token), timeout=LOOKUP_S)
    if row is None:
        return None
    return Principal(row["role"], row["center"], row["window_code"], row["staff_id"], row["device_kind"], row["label"],
                     row["point"], row["device_id"])


async def valid_tokens(pool: asyncpg.Pool) -> dict[str, Principal]:
    """Every token not revoked, by its hash."""
    rows = await pool.fetch("SELECT token_hash, role, center, window_code, staff_id, device_kind, label, point, device_id"
                            " FROM tokens WHERE revoked_at IS NULL")
    return {r["token_hash"]: Principal(r["role"], r["center"], r["window_code"], r["staff_id"], r["device_kind"],
                                       r["label"], r["point"], r["device_id"]) for r in rows}


async def revoked_since(pool: asyncpg.Pool, since: datetime | None) -> tuple[list[str], datetime]:
    """Hashes of the tokens revoked at or after ``since`` (none on the first call), and the database's
    clock now, less a second, for the next call: a revocation is never missed between two calls."""
    async with pool.acquire(timeout=LOOKUP_S) as conn:
        row = await conn.fetchrow(
            "SELECT now() - interval '1 second' AS at, CASE WHEN $1::timestamptz IS NULL THEN '{}'::text[]"
            " ELSE array(SELECT token_hash FROM tokens WHERE revoked_at >= $1) END AS hashes", since, timeout=LOOKUP_S)
    return list(row["hashes"]), row["at"]


async def find_staff(pool: asyncpg.Pool, staff_id: str) -> dict[str, str] | None:
    row = await pool.fetchrow("SELECT id, center, employee_no, name, photo_url FROM staff WHERE id = $1", staff_id)
    return dict(row) if row else None
