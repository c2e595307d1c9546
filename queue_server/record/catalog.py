"""Reads the catalog (centers, queues, windows, service points and their remote windows, matters)
from PostgreSQL."""
from __future__ import annotations

import json
from dataclasses import replace

import asyncpg

from ..domain.catalog import Catalog, Center, Matter, Queue, ServicePoint, Window
from ..domain.materials import MaterialItem
from ..domain.network import Assignment


CATALOG_TABLES = ("centers", "queues", "windows", "service_points", "remote_assignments", "matter_materials", "matters")

# What changes whenever the catalog does: each table's row count and newest row version (an insert
# or an update gives its row a newer xmin, a delete lowers the count), in one statement. Reading it
# costs PostgreSQL a scan of the catalog's rows; loading the city's catalog costs each process
# 30,000 objects built while its requests and screens wait.
_FINGERPRINT = "SELECT concat_ws(',', " + ", ".join(
    f"(SELECT count(*) || ':' || coalesce(max(xmin::text::bigint), 0) FROM {t})" for t in CATALOG_TABLES) + ")"


async def catalog_fingerprint(pool: asyncpg.Pool) -> str:
    """A value that differs after any change to the catalog's tables (see ``_FINGERPRINT``)."""
    return str(await pool.fetchval(_FINGERPRINT))


async def load_catalog(pool: asyncpg.Pool) -> Catalog:
    async with pool.acquire() as conn:
        centers = {
            r["code"]: Center(r["code"], r["name_zh"], r["name_en"], r["address"], r["timezone"], json.loads(r["hours"]),
                              lat=r["lat"], lng=r["lng"])
            for r in await conn.fetch("SELECT * FROM centers ORDER BY code")
        }
        for r in await conn.fetch("SELECT * FROM queues ORDER BY center, prefix"):
            centers[r["center"]].queues[r["code"]] = Queue(
                r["code"], r["prefix"], r["name_zh"], r["name_en"], frozenset(r["matters"]), frozenset(r["channels"]))
        for r in await conn.fetch("SELECT * FROM windows ORDER BY center, kind, length(code), code"):
            centers[r["center"]].windows[r["code"]] = Window(r["code"], r["name_zh"], r["name_en"], r["kind"], tuple(r["queues"]))
        for r in await conn.fetch("SELECT * FROM service_points ORDER BY center, code"):
            centers[r["center"]].service_points[r["code"]] = ServicePoint(
                r["code"], r["name_zh"], r["name_en"], r["kind"], r["address"], r["lat"], r["lng"], r["status"])
        assignments: dict[str, list[Assignment]] = {}
        for r in await conn.fetch("SELECT * FROM remote_assignments ORDER BY center, starts_min, id"):
            assignments.setdefault(r["center"], []).append(
                Assignment(r["id"], r["window_code"], r["point"], r["starts_min"], r["ends_min"], frozenset(r["weekdays"])))
        for code, found in assignments.items():
            centers[code] = replace(centers[code], assignments=tuple(found))
        items: dict[str, list[MaterialItem]] = {}
        for r in await conn.fetch("SELECT * FROM matter_materials ORDER BY matter, item"):
            items.setdefault(r["matter"], []).append(
                MaterialItem(r["item"], r["name_zh"], r["name_en"], r["form"], r["copies"], r["to_center"]))
        matters = {
            r["code"]: Matter(r["code"], r["name_zh"], r["name_en"], r["bureau"], r["bureau_zh"], r["bureau_en"],
                              r["whole_city"], r["remote_eligible"], r["door_to_door_eligible"], tuple(r["materials"]),
                              r["typical_minutes"], tuple(items.get(r["code"], ())))
            for r in await conn.fetch("SELECT * FROM matters ORDER BY bureau, code")
        }
    return Catalog(centers, matters)
