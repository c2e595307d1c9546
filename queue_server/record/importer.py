"""Import a catalog from a JSON file shaped like the demo data: {"centers": [...], "matters": [...],
"queues": [...], "windows": [...], "service_points": [...], "staff": [...]} (rows carry their center)."""
from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from .migrate import migrate

TABLES = {
    "centers": ("code", "name_zh", "name_en", "address", "timezone", "hours"),
    "matters": ("code", "name_zh", "name_en", "bureau", "bureau_zh", "bureau_en", "whole_city", "remote_eligible",
                "door_to_door_eligible", "materials", "typical_minutes"),
    "queues": ("center", "code", "prefix", "name_zh", "name_en", "matters", "channels"),
    "service_points": ("center", "code", "name_zh", "name_en", "kind", "address"),
    "windows": ("center", "code", "name_zh", "name_en", "kind", "queues"),
    "staff": ("id", "center", "employee_no", "name", "photo_url"),
}


async def import_catalog(database_url: str, path: Path) -> dict[str, int]:
    """Upsert every row in one transaction: all of the file or none of it."""
    data = json.loads(path.read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        async with conn.transaction():
            for table, cols in TABLES.items():
                rows = data.get(table, [])
                if not rows:
                    continue
                placeholders = ", ".join(f"${i + 1}" + ("::jsonb" if c == "hours" else "") for i, c in enumerate(cols))
                key = ("id",) if table == "staff" else ("code",) if table in ("centers", "matters") else ("center", "code")
                updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in key)
                await conn.executemany(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({placeholders})"
                    f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}",
                    [tuple(json.dumps(r[c]) if c == "hours" else r.get(c) for c in cols) for r in rows])
                counts[table] = len(rows)
    finally:
        await conn.close()
    return counts
