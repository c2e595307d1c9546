"""Door-to-door cases in PostgreSQL. Every step locks the case's row, asks the rules in
``queue_server.domain.door`` whether it may happen, and writes the change, its transition (who,
when, why) and the resident's SMS in one transaction: refused whole (409/422) or done whole. The
events follow from the transitions (events.py), never from the request."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from evaluation.config import EvalConfig
from evaluation.served import Served, save
from evaluation.sms.outbox import DOOR, enqueue_notice, enqueue_prompts
from queue_server.clock import from_ms
from queue_server.domain.catalog import Catalog, Matter
from queue_server.domain.door import (
    DISTRICT, OPEN, Action, Stage, all_done, case_difficulty, effective_list, eligibility, may_visit, next_approval,
    next_stage)
from queue_server.record.personal import PersonalData, mask

from . import texts


class DoorError(Exception):
    """A refused request: ``status`` (404, 409, 422) and a stable ``code``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@dataclass(frozen=True)
class Resident:
    name: str
    phone: str
    address: str
    id_number: str | None = None


def served_id(center: str, case_id: int) -> str:
    """The id a door-to-door visit is rated under in the reviews system (center first, like a ticket's)."""
    return f"{center}-{DOOR}-{case_id}"


def ms(at: datetime | None) -> int | None:
    return int(at.timestamp() * 1000) if at else None


# ---- service lists ---------------------------------------------------------------------------------

async def current_list(conn: asyncpg.Connection | asyncpg.Pool, scope: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM door_lists WHERE scope = $1 ORDER BY version DESC LIMIT 1", scope)


async def list_version(conn: asyncpg.Connection | asyncpg.Pool, scope: str, version: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM door_lists WHERE scope = $1 AND version = $2", scope, version)


async def list_versions(pool: asyncpg.Pool, scope: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT version, note, changed_by, changed_at FROM door_lists WHERE scope = $1"
                            " ORDER BY version DESC", scope)


async def save_list(pool: asyncpg.Pool, scope: str, items: list[dict[str, str]], note: str, actor: str,
                    now_ms: int) -> asyncpg.Record:
    """The scope's list as a new version (the whole list, so any version reads alone)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('door_list:' || $1))", scope)
        return await conn.fetchrow(
            "INSERT INTO door_lists (scope, version, items, note, changed_by, changed_at)"
            " SELECT $1, coalesce(max(version), 0) + 1, $2::jsonb, $3, $4, $5 FROM door_lists WHERE scope = $1"
            " RETURNING *", scope, json.dumps(items), note, actor, from_ms(now_ms))


def _items(row: asyncpg.Record | None) -> dict[str, str]:
    return {i["matter"]: i["difficulty"] for i in json.loads(row["items"])} if row else {}


async def center_list(conn: asyncpg.Connection | asyncpg.Pool, center: str) -> tuple[dict[str, str], dict[str, int]]:
    """Matter -> difficulty at the center now, and the versions it comes from."""
    district, own = await current_list(conn, DISTRICT), await current_list(conn, center)
    versions = {scope: row["version"] for scope, row in ((DISTRICT, district), (center, own)) if row}
    return effective_list(_items(district), _items(own)), versions


# ---- the roster -----------------------------------------------------------------------------------

async def add_visitor(pool: asyncpg.Pool, visitor_id: str, center: str, name: str, kind: str) -> asyncpg.Record:
    row = await pool.fetchrow("INSERT INTO door_visitors (id, center, name, kind) VALUES ($1, $2, $3, $4)"
                              " ON CONFLICT (id) DO NOTHING RETURNING *", visitor_id, center, name, kind)
    if row is None:
        raise DoorError(409, "visitor_exists", f"visitor {visitor_id!r} exists already", "id")
    return row


async def visitors(pool: asyncpg.Pool, center: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM door_visitors WHERE center = $1 AND active ORDER BY kind, id", center)


# ---- cases ----------------------------------------------------------------------------------------

async def _lock(conn: asyncpg.Connection, case_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM door_cases WHERE id = $1 FOR UPDATE", case_id)
    if row is None:
        raise DoorError(404, "not_found", f"no door-to-door case {case_id}")
    return row


async def _record(conn: asyncpg.Connection, case: asyncpg.Record, action: str, to: Stage | str, actor: str,
                  reason: str, now: datetime, data: dict[str, Any] | None = None) -> int:
    """The transition in the history (and the outbox of events); the case row moves with it."""
    if to != case["stage"]:
        stamp = {Stage.APPROVED: "reviewed_at", Stage.REFUSED: "reviewed_at", Stage.TRACKING: "visited_at",
                 Stage.CLOSED: "closed_at", Stage.CANCELLED: "closed_at"}.get(Stage(to))
        extra = f", {stamp} = coalesce({stamp}, $3)" if stamp else ""
        await conn.execute(f"UPDATE door_cases SET stage = $2, updated_at = $3{extra} WHERE id = $1", case["id"],
                           str(to), now)
        if Stage(to) not in OPEN:
            await conn.execute("UPDATE door_case_matters SET open = false WHERE case_id = $1", case["id"])
    else:
        await conn.execute("UPDATE door_cases SET updated_at = $2 WHERE id = $1", case["id"], now)
    return await conn.fetchval(
        "INSERT INTO door_transitions (case_id, center, at, actor, action, from_stage, to_stage, reason, data)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) RETURNING id",
        case["id"], case["center"], now, actor, action, case["stage"], str(to), reason, json.dumps(data or {}))


async def discover(pool: asyncpg.Pool, personal: PersonalData, center: str, resident: Resident, matters: list[str], reason: str,
                   reason_note: str, source: str, actor: str, note: str, now_ms: int) -> tuple[int, bool]:
    """One case per resident and matter while open: a report of a matter the resident already has an
    open case for is merged into that case (its other matters join it while it awaits review); the
    rest open a new case. Reports of the same resident are taken one at a time. Returns the case id
    and whether the report was merged."""
    key, now = personal.lookup(resident.phone), from_ms(now_ms)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('door_resident:' || encode($1, 'hex')))", key)
        taken = {r["matter"]: r["case_id"] for r in await conn.fetch(
            "SELECT matter, case_id FROM door_case_matters WHERE resident_key = $1 AND open", key)}
        hits = sorted({taken[m] for m in matters if m in taken})
        rest = [m for m in matters if m not in taken]
        if hits:
            case = await _lock(conn, hits[0])
            joining = rest if case["stage"] == Stage.DISCOVERED else []
            await _add_matters(conn, case["id"], key, joining)
            await _discovery(conn, case["id"], source, actor, now, matters, note)
            await _record(conn, case, "merge", case["stage"], actor, note, now,
                          {"source": source, "matters": matters, "joined": joining})
            if len(joining) == len(rest):
                return case["id"], True
            rest = [m for m in rest if m not in joining]
        case_id = await conn.fetchval(
            "INSERT INTO door_cases (center, resident_key, resident_name, phone_sealed, phone_masked, id_number_sealed,"
            " id_number_masked, address, reason, reason_note, source, discovered_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
            center, key, resident.name, personal.seal(resident.phone), mask(resident.phone),
            personal.seal(resident.id_number), mask(resident.id_number),
            resident.address, reason, reason_note, source, now)
        await _add_matters(conn, case_id, key, rest)
        await _discovery(conn, case_id, source, actor, now, rest, note)
        await conn.execute(
            "INSERT INTO door_transitions (case_id, center, at, actor, action, from_stage, to_stage, reason, data)"
            " VALUES ($1, $2, $3, $4, 'discover', NULL, 'discovered', $5, $6::jsonb)",
            case_id, center, now, actor, note, json.dumps({"source": source, "matters": rest}))
        return case_id, False


async def _add_matters(conn: asyncpg.Connection, case_id: int, key: bytes, matters: list[str]) -> None:
    await conn.executemany("INSERT INTO door_case_matters (case_id, matter, resident_key) VALUES ($1, $2, $3)",
                           [(case_id, m, key) for m in matters])


async def _discovery(conn: asyncpg.Connection, case_id: int, source: str, actor: str, now: datetime,
                     matters: list[str], note: str) -> None:
    await conn.execute("INSERT INTO door_discoveries (case_id, source, reported_by, reported_at, matters, note)"
                       " VALUES ($1, $2, $3, $4, $5, $6)", case_id, source, actor, now, matters, note)


async def center_of(pool: asyncpg.Pool, case_id: int) -> str:
    center = await pool.fetchval("SELECT center FROM door_cases WHERE id = $1", case_id)
    if center is None:
        raise DoorError(404, "not_found", f"no door-to-door case {case_id}")
    return center


async def review(pool: asyncpg.Pool, personal: PersonalData, case_id: int, approve: bool, reason: str, actor: str, now_ms: int) -> None:
    """Approve (every matter on the center's list, the reason one of the target groups' or explained)
    or refuse with an explanation, which goes to the resident by SMS."""
    now = from_ms(now_ms)
    async with pool.acquire() as conn, conn.transaction():
        case = await _lock(conn, case_id)
        action = Action.APPROVE if approve else Action.REFUSE
        to = next_stage(case["stage"], action, reason)
        matters = [r["matter"] for r in await conn.fetch("SELECT matter FROM door_case_matters WHERE case_id = $1",
                                                         case_id)]
        service_list, versions = await center_list(conn, case["center"])
        found = eligibility(matters, service_list, case["reason"], case["reason_note"])
        if approve and not found.eligible:
            why = (f"not on the center's door-to-door list: {', '.join(found.off_list)}" if found.off_list
                   else "the reason 'other' is not explained")
            raise DoorError(409, "not_eligible", why)
        await conn.executemany("UPDATE door_case_matters SET difficulty = $3 WHERE case_id = $1 AND matter = $2",
                               [(case_id, m, service_list.get(m)) for m in matters])
        await conn.execute("UPDATE door_cases SET list_versions = $2::jsonb WHERE id = $1", case_id, json.dumps(versions))
        tid = await _record(conn, case, action, to, actor, reason, now, {"list_versions": versions})
        if not approve:
            await enqueue_notice(conn, f"{served_id(case['center'], case_id)}-{tid}",
                                 personal.open(case["phone_sealed"]), texts.refused(case_id, reason), now_ms, personal)


async def schedule(pool: asyncpg.Pool, personal: PersonalData, catalog: Catalog, case_id: int, visitor: str, day: date, slot: str, actor: str,
                   now_ms: int, tz: str) -> int:
    """Book the visit (a new booking replaces the case's earlier one) and send the materials list
    ahead. A person is booked once a slot: of two schedulers racing for the same one, one wins."""
    now = from_ms(now_ms)
    if day < now.astimezone(ZoneInfo(tz)).date():
        raise DoorError(422, "in_the_past", "a visit is booked for today or later", "date")
    async with pool.acquire() as conn, conn.transaction():
        case = await _lock(conn, case_id)
        to = next_stage(case["stage"], Action.SCHEDULE)
        person = await conn.fetchrow("SELECT * FROM door_visitors WHERE id = $1 AND active", visitor)
        if person is None or person["center"] != case["center"]:
            raise DoorError(422, "unknown_visitor", f"{visitor!r} is not on the center's visiting roster", "visitor")
        rows = await conn.fetch("SELECT matter, difficulty FROM door_case_matters WHERE case_id = $1 ORDER BY matter",
                                case_id)
        difficulty = case_difficulty([r["difficulty"] for r in rows])
        if not may_visit(difficulty, person["kind"]):
            raise DoorError(422, "visitor_not_qualified",
                            f"a {difficulty} case needs acceptance staff, not a {person['kind']}", "visitor")
        await conn.execute("UPDATE door_visits SET cancelled_at = $2 WHERE case_id = $1 AND cancelled_at IS NULL"
                           " AND recorded_at IS NULL", case_id, now)
        try:
            async with conn.transaction():
                visit_id = await conn.fetchval(
                    "INSERT INTO door_visits (case_id, visitor, visit_date, slot, scheduled_by, scheduled_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", case_id, visitor, day, slot, actor, now)
        except asyncpg.UniqueViolationError:
            raise DoorError(409, "visitor_booked", f"{person['name']} is already booked on {day} ({slot})",
                            "visitor") from None
        tid = await _record(conn, case, Action.SCHEDULE, to, actor, "", now,
                            {"visit": visit_id, "visitor": visitor, "date": day.isoformat(), "slot": slot})
        materials: list[str] = []
        for r in rows:
            matter = catalog.matters.get(r["matter"])
            for item in checklist(matter) if matter else []:
                line = f"{item['name_zh']}（{texts.FORMS.get(item['form'], item['form'])}）" if item["form"] else item["name_zh"]
                if line not in materials:
                    materials.append(line)
        await enqueue_notice(conn, f"{served_id(case['center'], case_id)}-{tid}", personal.open(case["phone_sealed"]),
                             texts.scheduled(case_id, day, slot, materials), now_ms, personal)
        return visit_id


def checklist(matter: Matter) -> list[dict[str, Any]]:
    """What to have ready for a matter: the materials catalog's checklist (name, original or copy, how
    many), else the matter's plain list of materials."""
    if matter.items:
        return [{"name_zh": i.name_zh, "name_en": i.name_en, "form": i.form, "copies": i.copies} for i in matter.items]
    return [{"name_zh": name, "name_en": "", "form": "", "copies": 1} for name in matter.materials]


@dataclass(frozen=True)
class VisitRecord:
    key: str
    arrived_at_ms: int
    materials: list[dict[str, Any]]
    accepted: bool
    reason: str
    signature: bytes | None
    signature_type: str | None


async def record_visit(pool: asyncpg.Pool, personal: PersonalData, cfg: EvalConfig, case_id: int, rec: VisitRecord, actor: str, now_ms: int,
                       approval_days: int, tz: str) -> tuple[int, bool]:
    """Record the visit made on site, once per ``rec.key``: a page that sends it again (a reload, a
    lost answer) gets the same visit back and changes nothing. Accepted, the matters are handed into
    processing (each approval expected within ``approval_days``) and the service is open for
    rating; not accepted, the case waits for a new booking. Returns (visit id, whether new)."""
    now = from_ms(now_ms)
    async with pool.acquire() as conn, conn.transaction():
        case = await _lock(conn, case_id)
        before = await conn.fetchrow("SELECT id, case_id FROM door_visits WHERE record_key = $1", rec.key)
        if before is not None:
            if before["case_id"] != case_id:
                raise DoorError(409, "key_reused", "this record key belongs to another case's visit", "record_key")
            return before["id"], False
        to = next_stage(case["stage"], Action.ACCEPT if rec.accepted else Action.NOT_ACCEPTED, rec.reason)
        visit = await conn.fetchrow("SELECT * FROM door_visits WHERE case_id = $1 AND cancelled_at IS NULL"
                                    " AND recorded_at IS NULL", case_id)
        assert visit is not None   # a scheduled case has its booking (door_one_booking_a_case)
        await conn.execute(
            "UPDATE door_visits SET record_key = $2, arrived_at = $3, materials = $4::jsonb, accepted = $5,"
            " outcome_reason = $6, signature = $7, signature_type = $8, recorded_at = $9 WHERE id = $1",
            visit["id"], rec.key, from_ms(rec.arrived_at_ms), json.dumps(rec.materials), rec.accepted, rec.reason,
            rec.signature, rec.signature_type, now)
        await _record(conn, case, Action.ACCEPT if rec.accepted else Action.NOT_ACCEPTED, to, actor, rec.reason, now,
                      {"visit": visit["id"], "visitor": visit["visitor"],
                       "materials_collected": sum(1 for m in rec.materials if m.get("collected"))})
        if rec.accepted:
            due = now.astimezone(ZoneInfo(tz)).date() + timedelta(days=approval_days)
            await conn.execute("UPDATE door_case_matters SET approval = 'submitted', expected_by = $2,"
                               " approval_changed_at = $3 WHERE case_id = $1", case_id, due, now)
            matters = await conn.fetch("SELECT matter FROM door_case_matters WHERE case_id = $1 ORDER BY matter", case_id)
            served = Served(served_id(case["center"], case_id), case["center"], None, visit["visitor"],
                            matters[0]["matter"], now.astimezone(ZoneInfo(tz)).date(), now_ms, True)
            await save(conn, [served])
            await enqueue_prompts(conn, [(served, personal.open(case["phone_sealed"]))], cfg, personal)
        return visit["id"], True


async def update_approval(pool: asyncpg.Pool, personal: PersonalData, catalog: Catalog, case_id: int, matter: str, to: str,
                          expected_by: date | None, reason: str, actor: str, now_ms: int) -> None:
    """An approval moves forward (the resident gets an SMS at each change); a new expected date may
    come with it, and a later date may be reminded of again once it passes."""
    now = from_ms(now_ms)
    async with pool.acquire() as conn, conn.transaction():
        case = await _lock(conn, case_id)
        if case["stage"] != Stage.TRACKING:
            raise DoorError(409, "illegal_transition", f"approvals are tracked after an accepted visit; the case is {case['stage']}")
        row = await conn.fetchrow("SELECT * FROM door_case_matters WHERE case_id = $1 AND matter = $2", case_id, matter)
        if row is None:
            raise DoorError(404, "not_found", f"case {case_id} has no matter {matter!r}")
        state = next_approval(row["approval"], to)
        due = expected_by or row["expected_by"]
        reminded = row["overdue_reminded_at"] if due == row["expected_by"] else None
        await conn.execute("UPDATE door_case_matters SET approval = $3, expected_by = $4, approval_changed_at = $5,"
                           " overdue_reminded_at = $6 WHERE case_id = $1 AND matter = $2",
                           case_id, matter, str(state), due, now, reminded)
        states = [r["approval"] for r in await conn.fetch("SELECT approval FROM door_case_matters WHERE case_id = $1",
                                                          case_id)]
        if all_done(states):
            await conn.execute("UPDATE door_cases SET approvals_done_at = $2 WHERE id = $1", case_id, now)
        tid = await _record(conn, case, "approval", Stage.TRACKING, actor, reason, now,
                            {"matter": matter, "from": row["approval"], "to": str(state),
                             "expected_by": due.isoformat() if due else None,
                             "overdue": reminded is not None and not all_done([str(state)])})
        m = catalog.matters.get(matter)
        await enqueue_notice(conn, f"{served_id(case['center'], case_id)}-{tid}", personal.open(case["phone_sealed"]),
                             texts.approval_changed(case_id, m.name_zh if m else matter, m.name_en if m else matter,
                                                    str(state), due), now_ms, personal)


async def close(pool: asyncpg.Pool, case_id: int, reason: str, actor: str, now_ms: int) -> None:
    """Close a tracked case: only once every approval is decided."""
    async with pool.acquire() as conn, conn.transaction():
        case = await _lock(conn, case_id)
        states = [r["approval"] for r in await conn.fetch("SELECT approval FROM door_case_matters WHERE case_id = $1",
                                                          case_id)]
        to = next_stage(case["stage"], Action.CLOSE, reason, approvals_done=all_done(states))
        await _record(conn, case, Action.CLOSE, to, actor, reason, from_ms(now_ms))


async def cancel(pool: asyncpg.Pool, case_id: int, reason: str, actor: str, now_ms: int) -> None:
    """Withdraw a case before its visit (the resident came in, moved, no longer needs it); its booking is freed."""
    now = from_ms(now_ms)
    async with pool.acquire() as conn, conn.transaction():
        case = await _lock(conn, case_id)
        to = next_stage(case["stage"], Action.CANCEL, reason)
        await conn.execute("UPDATE door_visits SET cancelled_at = $2 WHERE case_id = $1 AND cancelled_at IS NULL"
                           " AND recorded_at IS NULL", case_id, now)
        await _record(conn, case, Action.CANCEL, to, actor, reason, now)


async def remind_overdue(pool: asyncpg.Pool, now_ms: int, tz: str) -> int:
    """Mark every approval past its expected date as reminded and record the reminder, in one
    statement: however many sweepers run, and whenever one is stopped and started again, each
    overdue approval is reminded of once (its events follow from the transitions, once each)."""
    now = from_ms(now_ms)
    today = now.astimezone(ZoneInfo(tz)).date()
    status = await pool.execute(
        "WITH due AS (UPDATE door_case_matters m SET overdue_reminded_at = $1 FROM door_cases c"
        "   WHERE c.id = m.case_id AND c.stage = 'tracking' AND m.approval IN ('submitted', 'in_review')"
        "   AND m.overdue_reminded_at IS NULL AND m.expected_by < $2"
        "   RETURNING m.case_id, m.matter, m.approval, m.expected_by, c.center)"
        " INSERT INTO door_transitions (case_id, center, at, actor, action, from_stage, to_stage, data)"
        " SELECT case_id, center, $1, 'system', 'approval_overdue', 'tracking', 'tracking',"
        "   jsonb_build_object('matter', matter, 'approval', approval, 'expected_by', expected_by) FROM due",
        now, today)
    return int(status.rsplit(" ", 1)[1])


async def forget_finished(pool: asyncpg.Pool, now_ms: int, days: int) -> int:
    """Forget the sealed phone and ID number of cases finished (closed, refused, cancelled) more than
    ``days`` ago — the phone retention period (docs/privacy.md): nothing is sent to a finished case's
    resident after it. Returns how many cases forgot."""
    status = await pool.execute(
        "UPDATE door_cases SET phone_sealed = NULL, id_number_sealed = NULL WHERE phone_sealed IS NOT NULL"
        " AND stage IN ('closed', 'refused', 'cancelled') AND updated_at < $1", from_ms(now_ms) - timedelta(days=days))
    return int(status.rsplit(" ", 1)[1])


# ---- reading ---------------------------------------------------------------------------------------

def _case(row: asyncpg.Record, matters: list[asyncpg.Record], today: date) -> dict[str, Any]:
    overdue = [m["matter"] for m in matters if m["approval"] in ("submitted", "in_review")
               and m["expected_by"] is not None and today > m["expected_by"]]
    return {
        "id": row["id"], "center": row["center"], "resident_name": row["resident_name"],
        "phone_masked": row["phone_masked"], "id_number_masked": row["id_number_masked"], "address": row["address"],
        "reason": row["reason"], "reason_note": row["reason_note"], "source": row["source"], "stage": row["stage"],
        "list_versions": json.loads(row["list_versions"]) if row["list_versions"] else None,
        "discovered_at": ms(row["discovered_at"]), "reviewed_at": ms(row["reviewed_at"]),
        "visited_at": ms(row["visited_at"]), "approvals_done_at": ms(row["approvals_done_at"]),
        "closed_at": ms(row["closed_at"]), "updated_at": ms(row["updated_at"]),
        "matters": [{"matter": m["matter"], "difficulty": m["difficulty"], "approval": m["approval"],
                     "expected_by": m["expected_by"].isoformat() if m["expected_by"] else None,
                     "overdue": m["matter"] in overdue} for m in matters],
        "overdue": bool(overdue),
    }


def _visit(v: asyncpg.Record) -> dict[str, Any]:
    return {"id": v["id"], "visitor": v["visitor"], "visitor_name": v["name"], "visitor_kind": v["kind"],
            "date": v["visit_date"].isoformat(), "slot": v["slot"],
            "scheduled_by": v["scheduled_by"], "scheduled_at": ms(v["scheduled_at"]),
            "cancelled_at": ms(v["cancelled_at"]), "arrived_at": ms(v["arrived_at"]),
            "materials": json.loads(v["materials"]) if v["materials"] else None, "accepted": v["accepted"],
            "outcome_reason": v["outcome_reason"], "has_signature": v["has_signature"],
            "recorded_at": ms(v["recorded_at"])}


_VISITS = ("SELECT v.*, d.name, d.kind, v.signature IS NOT NULL AS has_signature FROM door_visits v"
           " JOIN door_visitors d ON d.id = v.visitor")


async def case(pool: asyncpg.Pool, case_id: int, today: date) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM door_cases WHERE id = $1", case_id)
    if row is None:
        raise DoorError(404, "not_found", f"no door-to-door case {case_id}")
    matters = await pool.fetch("SELECT * FROM door_case_matters WHERE case_id = $1 ORDER BY matter", case_id)
    out = _case(row, matters, today)
    out["visits"] = [_visit(v) for v in await pool.fetch(f"{_VISITS} WHERE v.case_id = $1 ORDER BY v.id", case_id)]
    out["history"] = [
        {"id": t["id"], "at": ms(t["at"]), "actor": t["actor"], "action": t["action"], "from_stage": t["from_stage"],
         "to_stage": t["to_stage"], "reason": t["reason"], "data": json.loads(t["data"])}
        for t in await pool.fetch("SELECT * FROM door_transitions WHERE case_id = $1 ORDER BY id", case_id)]
    out["discoveries"] = [
        {"source": d["source"], "reported_by": d["reported_by"], "reported_at": ms(d["reported_at"]),
         "matters": list(d["matters"]), "note": d["note"]}
        for d in await pool.fetch("SELECT * FROM door_discoveries WHERE case_id = $1 ORDER BY id", case_id)]
    rating = await pool.fetchrow("SELECT level, channel, rated_at FROM reviews WHERE ticket_id = $1 AND round = 1",
                                 served_id(row["center"], case_id))
    out["rating"] = {"level": rating["level"], "channel": rating["channel"], "rated_at": ms(rating["rated_at"])} \
        if rating else None
    return out


async def board(pool: asyncpg.Pool, center: str, today: date, stages: list[str] | None, source: str | None,
                matter: str | None, overdue_only: bool, limit: int) -> list[dict[str, Any]]:
    """The center's cases, overdue ones first, then the longest untouched."""
    rows = await pool.fetch(
        "SELECT c.* FROM door_cases c WHERE c.center = $1 AND ($2::text[] IS NULL OR c.stage = ANY($2))"
        " AND ($3::text IS NULL OR c.source = $3)"
        " AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM door_case_matters m WHERE m.case_id = c.id AND m.matter = $4))"
        " ORDER BY EXISTS (SELECT 1 FROM door_case_matters m WHERE m.case_id = c.id AND c.stage = 'tracking'"
        "   AND m.approval IN ('submitted', 'in_review') AND m.expected_by < $5) DESC, c.updated_at, c.id LIMIT $6",
        center, stages, source, matter, today, limit)
    ids = [r["id"] for r in rows]
    by_case: dict[int, list[asyncpg.Record]] = {}
    for m in await pool.fetch("SELECT * FROM door_case_matters WHERE case_id = ANY($1) ORDER BY matter", ids):
        by_case.setdefault(m["case_id"], []).append(m)
    booked = {v["case_id"]: _visit(v) for v in await pool.fetch(
        f"{_VISITS} WHERE v.case_id = ANY($1) AND v.cancelled_at IS NULL AND v.recorded_at IS NULL", ids)}
    out = []
    for r in rows:
        c = _case(r, by_case.get(r["id"], []), today)
        if overdue_only and not c["overdue"]:
            continue
        c["booking"] = booked.get(r["id"])
        out.append(c)
    return out


async def visits_of(pool: asyncpg.Pool, visitor: str, since: date) -> list[dict[str, Any]]:
    """A visitor's bookings from ``since`` on, for the visit page's list."""
    rows = await pool.fetch(
        "SELECT v.*, d.name, d.kind, v.signature IS NOT NULL AS has_signature, c.resident_name, c.address, c.stage"
        " FROM door_visits v JOIN door_visitors d ON d.id = v.visitor JOIN door_cases c ON c.id = v.case_id"
        " WHERE v.visitor = $1 AND v.visit_date >= $2 AND v.cancelled_at IS NULL ORDER BY v.visit_date, v.slot, v.id",
        visitor, since)
    return [{**_visit(v), "case_id": v["case_id"], "resident_name": v["resident_name"], "address": v["address"],
             "stage": v["stage"]} for v in rows]


async def signature(pool: asyncpg.Pool, case_id: int, visit_id: int) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT signature, signature_type FROM door_visits WHERE id = $1 AND case_id = $2"
                               " AND signature IS NOT NULL", visit_id, case_id)
