"""Versioned schema migrations: numbered SQL files applied once, in order, under an advisory lock
so that several instances starting together do not race."""
from __future__ import annotations

from importlib import resources

import asyncpg

from ..config import Settings
from .personal import PersonalData
from .phones import seal_staged_phones

_LOCK_ID = 7_315_001
# Steps SQL cannot do (sealing needs the key), run after their migration's SQL in its transaction.
PYTHON_STEPS = {42: seal_staged_phones}


def migration_files() -> list[tuple[int, str, str]]:
    folder = resources.files("queue_server.record") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(conn: asyncpg.Connection, personal: PersonalData | None = None, until: int | None = None) -> list[str]:
    """Apply the migrations this database lacks (up to ``until``); returns the names applied.
    ``personal`` seals what a migration converts (default: the key the environment configures)."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
            " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, name, sql in migration_files():
            if version in done or (until is not None and version > until):
                continue
            async with conn.transaction():
                await conn.execute(sql)
                if version in PYTHON_STEPS:
                    await PYTHON_STEPS[version](conn, lambda: personal or PersonalData.from_settings(Settings.from_env()))
                await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
            applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
    return applied
