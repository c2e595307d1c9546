"""Devices in PostgreSQL. A device holds at most one valid token: rotation revokes the old one and
makes the new one in one transaction, so there is never a moment with two or with none."""
from __future__ import annotations

import secrets
from datetime import date
from typing import Any

import asyncpg

from ..domain.devices import CAPABILITY, presence_field
from ..record.people import create_token

_COLUMNS = ("d.id, d.center, d.kind, d.window_code, d.point, d.model, d.software_version, d.installed_on, d.label,"
            " d.offline_after_s, d.created_at")


def public(row: Any) -> dict[str, Any]:
    d = dict(row)
    return {"id": d["id"], "center": d["center"], "kind": d["kind"], "window": d["window_code"], "point": d["point"],
            "model": d["model"], "software_version": d["software_version"],
            "installed_on": d["installed_on"].isoformat() if d["installed_on"] else None, "label": d["label"],
            "offline_after_s": d["offline_after_s"], "created_at": d["created_at"].isoformat()}


async def register(pool: asyncpg.Pool, center: str, kind: str, window: str | None, point: str | None, model: str,
                   software_version: str, installed_on: date | None, label: str,
                   offline_after_s: int) -> tuple[dict[str, Any], str]:
    """A new device and its first token, together or not at all."""
    device_id = f"dv_{secrets.token_hex(8)}"
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO devices (id, center, kind, window_code, point, model, software_version, installed_on, label,"
            " offline_after_s) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
            device_id, center, kind, window, point, model, software_version, installed_on, label, offline_after_s)
        token = await create_token(conn, "device", center, window, None, CAPABILITY[kind], label, point, device_id)
    return public(row), token


async def find(pool: asyncpg.Pool, device_id: str) -> dict[str, Any] | None:
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM devices d WHERE d.id = $1", device_id)
    return public(row) if row else None


async def of_center(pool: asyncpg.Pool, center: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(f"SELECT {_COLUMNS} FROM devices d WHERE d.center = $1 ORDER BY d.kind, d.id", center)
    return [public(r) for r in rows]


async def revoke(pool: asyncpg.Pool, device_id: str, conn: Any = None) -> list[str]:
    """Revoke the device's valid tokens; their hashes (for every instance to close their sockets)."""
    rows = await (conn or pool).fetch(
        "UPDATE tokens SET revoked_at = now() WHERE device_id = $1 AND revoked_at IS NULL RETURNING token_hash", device_id)
    return [r["token_hash"] for r in rows]


async def rotate(pool: asyncpg.Pool, device: dict[str, Any]) -> tuple[str, list[str]]:
    """A new secret for the device, its old ones revoked in the same transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM devices WHERE id = $1 FOR UPDATE", device["id"])   # rotations one at a time
        old = await revoke(pool, device["id"], conn)
        token = await create_token(conn, "device", device["center"], device["window"], None, CAPABILITY[device["kind"]],
                                   device["label"], device["point"], device["id"])
    return token, old


async def watched(pool: asyncpg.Pool, center: str | None = None) -> dict[str, list[tuple[str, str, int, dict[str, Any]]]]:
    """Per center (every one, or only ``center``), every device with a valid token: (id, presence field, offline after ms, the device as
    events show it). The field is the one its token's sockets and heartbeats write (realtime/presence.py)."""
    rows = await pool.fetch(
        "SELECT d.id, d.center, d.kind, d.window_code, d.point, d.label, d.offline_after_s, t.device_kind,"
        " t.label AS token_label FROM devices d JOIN tokens t ON t.device_id = d.id AND t.revoked_at IS NULL"
        " WHERE $1::text IS NULL OR d.center = $1 ORDER BY d.id, t.created_at DESC", center)
    out: dict[str, list[tuple[str, str, int, dict[str, Any]]]] = {}
    seen: set[str] = set()
    for r in rows:
        if r["id"] in seen:
            continue
        seen.add(r["id"])
        field = presence_field(str(r["device_kind"]), r["window_code"], r["token_label"] or r["id"])
        out.setdefault(r["center"], []).append((r["id"], field, r["offline_after_s"] * 1000, {
            "id": r["id"], "center": r["center"], "kind": r["kind"], "window_code": r["window_code"],
            "point": r["point"], "label": r["label"], "presence": field}))
    return out
