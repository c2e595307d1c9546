"""Accounts, tokens and enrollment codes in PostgreSQL. Every change that ends tokens returns their
hashes, for the caller to publish (every instance forgets them and closes their sockets at once)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

import asyncpg

from ..domain.accounts import token_role
from ..domain.devices import CAPABILITY
from ..record.people import create_token

_USER = ("id, username, display_name, role, center, window_code, staff_id, failures, locked_until, disabled_at,"
         " created_at")


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def public_user(row: Any) -> dict[str, Any]:
    """An account as the API shows it: never its password hash."""
    return {"username": row["username"], "display_name": row["display_name"], "role": row["role"],
            "center": row["center"], "window": row["window_code"], "staff_id": row["staff_id"],
            "failures": row["failures"], "locked_until": _iso(row["locked_until"]),
            "disabled": row["disabled_at"] is not None, "created_at": _iso(row["created_at"])}


async def add_user(pool: asyncpg.Pool, username: str, display_name: str, role: str, center: str | None,
                   window: str | None, staff_id: str | None, password_hash: str) -> dict[str, Any] | None:
    """The new account; None when the username is taken."""
    row = await pool.fetchrow(
        f"INSERT INTO users (username, display_name, role, center, window_code, staff_id, password_hash)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (username) DO NOTHING RETURNING {_USER}",
        username, display_name, role, center, window, staff_id, password_hash)
    return public_user(row) if row else None


async def users(pool: asyncpg.Pool, center: str | None) -> list[dict[str, Any]]:
    rows = await pool.fetch(f"SELECT {_USER} FROM users WHERE $1::text IS NULL OR center = $1 ORDER BY username", center)
    return [public_user(r) for r in rows]


async def find_user(pool: asyncpg.Pool, username: str) -> asyncpg.Record | None:
    """The account with its password hash and whether it is locked now (by the database's clock)."""
    return await pool.fetchrow(
        f"SELECT {_USER}, password_hash, coalesce(locked_until > now(), false) AS locked,"
        " ceil(extract(epoch FROM locked_until - now()))::int AS locked_s FROM users WHERE username = $1", username)


async def failed_login(pool: asyncpg.Pool, user_id: int, max_failures: int, lock_s: int) -> bool:
    """Count one wrong password, atomically however many arrive at once; whether the account is now locked."""
    return bool(await pool.fetchval(
        "UPDATE users SET failures = failures + 1, locked_until = CASE WHEN failures + 1 >= $2"
        " THEN now() + make_interval(secs => $3) ELSE locked_until END WHERE id = $1"
        " RETURNING coalesce(locked_until > now(), false)", user_id, max_failures, float(lock_s)))


async def logged_in(pool: asyncpg.Pool, user: asyncpg.Record, lifetime_s: int,
                    new_hash: str | None = None) -> tuple[str, datetime] | None:
    """The right password: failures cleared and a login token made, together — unless a concurrent
    wrong attempt locked the account (or it was disabled) meanwhile (None)."""
    async with pool.acquire() as conn, conn.transaction():
        still = await conn.fetchval(
            "UPDATE users SET failures = 0, locked_until = NULL, password_hash = coalesce($2, password_hash)"
            " WHERE id = $1 AND disabled_at IS NULL AND (locked_until IS NULL OR locked_until <= now()) RETURNING id",
            user["id"], new_hash)
        if still is None:
            return None
        token = await create_token(conn, token_role(user["role"]), user["center"], user["window_code"], user["staff_id"],
                                   label=user["display_name"], user_id=user["id"], lifetime_s=lifetime_s)
        expires = await conn.fetchval("SELECT expires_at FROM tokens WHERE token_hash = $1",
                                      hashlib.sha256(token.encode()).hexdigest())
    return token, expires


async def _revoke_where(conn: Any, condition: str, *args: Any) -> list[str]:
    rows = await conn.fetch(f"UPDATE tokens SET revoked_at = now() WHERE revoked_at IS NULL AND {condition}"
                            " RETURNING token_hash", *args)
    return [r["token_hash"] for r in rows]


async def set_password(pool: asyncpg.Pool, username: str, password_hash: str) -> list[str] | None:
    """A new password (unlocked); the account's tokens end. None: no such account."""
    async with pool.acquire() as conn, conn.transaction():
        user_id = await conn.fetchval("UPDATE users SET password_hash = $2, failures = 0, locked_until = NULL"
                                      " WHERE username = $1 RETURNING id", username, password_hash)
        return None if user_id is None else await _revoke_where(conn, "user_id = $1", user_id)


async def unlock(pool: asyncpg.Pool, username: str) -> bool:
    return await pool.fetchval("UPDATE users SET failures = 0, locked_until = NULL WHERE username = $1 RETURNING true",
                               username) is not None


async def disable(pool: asyncpg.Pool, username: str) -> list[str] | None:
    """The account can no longer log in and its tokens end. None: no such account."""
    async with pool.acquire() as conn, conn.transaction():
        user_id = await conn.fetchval("UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE username = $1"
                                      " RETURNING id", username)
        return None if user_id is None else await _revoke_where(conn, "user_id = $1", user_id)


def public_token(row: Any) -> dict[str, Any]:
    return {"id": row["token_hash"], "role": row["role"], "center": row["center"], "window": row["window_code"],
            "staff_id": row["staff_id"], "device_kind": row["device_kind"], "label": row["label"],
            "point": row["point"], "device": row["device_id"], "user": row["username"],
            "created_at": _iso(row["created_at"]), "expires_at": _iso(row["expires_at"])}


_TOKEN = ("SELECT t.*, u.username FROM tokens t LEFT JOIN users u ON u.id = t.user_id"
          " WHERE t.revoked_at IS NULL AND t.expires_at > now()")


async def tokens(pool: asyncpg.Pool, center: str | None) -> list[dict[str, Any]]:
    """Every valid token (of ``center``, or all), newest first; never a secret, only its hash as id."""
    rows = await pool.fetch(_TOKEN + " AND ($1::text IS NULL OR t.center = $1) ORDER BY t.created_at DESC", center)
    return [public_token(r) for r in rows]


async def find_token_row(pool: asyncpg.Pool, token_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow(_TOKEN + " AND t.token_hash = $1", token_id)


async def revoke_token(pool: asyncpg.Pool, token_id: str) -> list[str]:
    return await _revoke_where(pool, "token_hash = $1", token_id)


async def rotate_token(pool: asyncpg.Pool, row: asyncpg.Record) -> tuple[str, list[str]] | None:
    """A new token like ``row`` (same role, place, person or device; a fresh lifetime of its kind), the old
    one revoked in the same transaction. None: it was revoked meanwhile (by another rotation, say)."""
    async with pool.acquire() as conn, conn.transaction():
        old = await _revoke_where(conn, "token_hash = $1", row["token_hash"])
        if not old:
            return None
        token = await create_token(conn, row["role"], row["center"], row["window_code"], row["staff_id"],
                                   row["device_kind"], row["label"], row["point"], row["device_id"], row["user_id"])
    return token, old


def code_hash(code: str) -> str:
    return hashlib.sha256(f"enroll:{code}".encode()).hexdigest()


async def new_enrollment_code(pool: asyncpg.Pool, device_id: str, by: str, lifetime_s: int) -> tuple[str, datetime]:
    """A single-use code (8 digits: easy to type on a kiosk's touch screen) for the device; codes not
    used yet for the same device stop working, so only the latest one counts."""
    code = f"{secrets.randbelow(10**8):08d}"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE enrollment_codes SET used_at = now() WHERE device_id = $1 AND used_at IS NULL",
                           device_id)
        expires = await conn.fetchval(
            "INSERT INTO enrollment_codes (code_hash, device_id, created_by, expires_at)"
            " VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING expires_at",
            code_hash(code), device_id, by, float(lifetime_s))
    return code, expires


async def enroll(pool: asyncpg.Pool, code: str) -> tuple[dict[str, Any], str, list[str]] | None:
    """Use the code once: the device gets a new token and its old ones end, all in one transaction, so
    two devices typing the same code cannot both get one. None: no such code, used, or expired."""
    async with pool.acquire() as conn, conn.transaction():
        device_id = await conn.fetchval(
            "UPDATE enrollment_codes SET used_at = now() WHERE code_hash = $1 AND used_at IS NULL"
            " AND expires_at > now() RETURNING device_id", code_hash(code))
        if device_id is None:
            return None
        device = await conn.fetchrow("SELECT id, center, kind, window_code, point, label FROM devices WHERE id = $1"
                                     " FOR UPDATE", device_id)
        old = await _revoke_where(conn, "device_id = $1", device_id)
        token = await create_token(conn, "device", device["center"], device["window_code"], None,
                                   CAPABILITY[device["kind"]], device["label"], device["point"], device_id)
    return dict(device), token, old
