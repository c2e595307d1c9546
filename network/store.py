"""The service network in PostgreSQL: points with their status history, and remote windows'
assignments. Each change is one transaction that locks what it checks, so two managers acting at
once can neither skip a status nor slip an overlapping assignment past each other."""
from __future__ import annotations

from typing import Any

import asyncpg

from queue_server.domain.network import KINDS, Assignment, format_hhmm, may_change, overlapping, point_id


class Refused(Exception):
    """A change the rules refuse: ``status`` (404, 409, 422) and the field it is about."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def _ms(at: Any) -> int:
    return int(at.timestamp() * 1000)


def assignment_view(center: str, a: Assignment) -> dict[str, Any]:
    return {"id": a.id, "center": center, "window": a.window, "point": a.point,
            "starts": format_hhmm(a.starts), "ends": format_hhmm(a.ends), "weekdays": sorted(a.weekdays)}


def _assignment(r: asyncpg.Record) -> Assignment:
    return Assignment(r["id"], r["window_code"], r["point"], r["starts_min"], r["ends_min"], frozenset(r["weekdays"]))


async def points(conn: asyncpg.Connection, center: str | None, with_history: bool = False) -> list[dict[str, Any]]:
    """Every point (of one center, or all), with its assignments and, if asked, its history."""
    rows = await conn.fetch("SELECT * FROM service_points WHERE $1::text IS NULL OR center = $1 ORDER BY center, code",
                            center)
    assigned: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in await conn.fetch("SELECT * FROM remote_assignments WHERE $1::text IS NULL OR center = $1"
                              " ORDER BY starts_min, window_code, id", center):
        assigned.setdefault((r["center"], r["point"]), []).append(assignment_view(r["center"], _assignment(r)))
    history: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if with_history:
        for r in await conn.fetch("SELECT * FROM service_point_changes WHERE $1::text IS NULL OR center = $1"
                                  " ORDER BY at, id", center):
            history.setdefault((r["center"], r["point"]), []).append(
                {"from_status": r["from_status"], "to_status": r["to_status"], "changed_by": r["changed_by"],
                 "reason": r["reason"], "at": _ms(r["at"])})
    out = []
    for r in rows:
        zh, en = KINDS.get(r["kind"], (r["kind"], r["kind"]))
        key = (r["center"], r["code"])
        out.append({"id": point_id(r["center"], r["code"]), "center": r["center"], "code": r["code"],
                    "name_zh": r["name_zh"], "name_en": r["name_en"], "kind": r["kind"], "kind_zh": zh, "kind_en": en,
                    "address": r["address"], "lat": r["lat"], "lng": r["lng"], "status": r["status"],
                    "history": history.get(key, []), "assignments": assigned.get(key, [])})
    return out


async def point(conn: asyncpg.Connection, center: str, code: str) -> dict[str, Any]:
    found = [p for p in await points(conn, center, with_history=True) if p["code"] == code]
    if not found:
        raise Refused(404, f"unknown service point {code!r} at {center}")
    return found[0]


async def create_point(conn: asyncpg.Connection, center: str, p: dict[str, Any], by: str) -> None:
    """A new point starts as planned, its creation the first line of its history."""
    async with conn.transaction():
        done = await conn.execute(
            "INSERT INTO service_points (center, code, name_zh, name_en, kind, address, lat, lng, status)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'planned') ON CONFLICT DO NOTHING",
            center, p["code"], p["name_zh"], p["name_en"], p["kind"], p["address"], p["lat"], p["lng"])
        if done.endswith(" 0"):
            raise Refused(409, f"service point {p['code']!r} already exists at {center}", "code")
        await conn.execute("INSERT INTO service_point_changes (center, point, from_status, to_status, changed_by, reason)"
                           " VALUES ($1, $2, NULL, 'planned', $3, $4)", center, p["code"], by, p["reason"])


async def change_status(conn: asyncpg.Connection, center: str, code: str, to: str, by: str, reason: str) -> None:
    async with conn.transaction():
        current = await conn.fetchval("SELECT status FROM service_points WHERE center = $1 AND code = $2 FOR UPDATE",
                                      center, code)
        if current is None:
            raise Refused(404, f"unknown service point {code!r} at {center}")
        if not may_change(current, to):
            raise Refused(409, f"service point {code} is {current}; it cannot become {to}", "status")
        await conn.execute("UPDATE service_points SET status = $3 WHERE center = $1 AND code = $2", center, code, to)
        await conn.execute("INSERT INTO service_point_changes (center, point, from_status, to_status, changed_by, reason)"
                           " VALUES ($1, $2, $3, $4, $5, $6)", center, code, current, to, by, reason)


async def assignments(conn: asyncpg.Connection, center: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM remote_assignments WHERE center = $1 ORDER BY window_code, starts_min, id",
                            center)
    return [assignment_view(center, _assignment(r)) for r in rows]


async def assign(conn: asyncpg.Connection, center: str, window: str, code: str, starts: int, ends: int,
                 weekdays: frozenset[int], by: str) -> dict[str, Any]:
    """A remote window serves a point from ``starts`` to ``ends`` on ``weekdays``; refused if it meets
    another range of the same window and point on a common day (the window's row is locked while checking)."""
    if ends <= starts:
        raise Refused(422, "ends must be after starts", "ends")
    async with conn.transaction():
        kind = await conn.fetchval("SELECT kind FROM windows WHERE center = $1 AND code = $2 FOR UPDATE", center, window)
        if kind is None:
            raise Refused(422, f"unknown window {window!r} at {center}", "window")
        if kind != "remote":
            raise Refused(422, f"window {window} is an onsite window; only remote windows serve service points", "window")
        if await conn.fetchval("SELECT 1 FROM service_points WHERE center = $1 AND code = $2", center, code) is None:
            raise Refused(422, f"unknown service point {code!r} at {center}", "point")
        existing = [_assignment(r) for r in await conn.fetch(
            "SELECT * FROM remote_assignments WHERE center = $1 AND window_code = $2 AND point = $3", center, window, code)]
        new = Assignment(0, window, code, starts, ends, weekdays)
        clash = overlapping(new, existing)
        if clash is not None:
            raise Refused(422, f"window {window} already serves {code} from {format_hhmm(clash.starts)} to"
                               f" {format_hhmm(clash.ends)} on weekdays {sorted(clash.weekdays & weekdays)},"
                               " which overlaps", "starts")
        new_id = await conn.fetchval(
            "INSERT INTO remote_assignments (center, window_code, point, starts_min, ends_min, weekdays, created_by)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id", center, window, code, starts, ends, sorted(weekdays), by)
    return assignment_view(center, Assignment(new_id, window, code, starts, ends, weekdays))


async def unassign(conn: asyncpg.Connection, center: str, assignment_id: int) -> None:
    done = await conn.execute("DELETE FROM remote_assignments WHERE center = $1 AND id = $2", center, assignment_id)
    if done.endswith(" 0"):
        raise Refused(404, f"no assignment {assignment_id} at {center}")
