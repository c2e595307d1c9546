"""Slots and bookings in PostgreSQL. A booking counts the slot's live bookings with the slot's row
locked (``SELECT … FOR UPDATE``), so concurrent bookings of a slot queue behind one another and the
last place goes to exactly one of them; the partial unique index keeps one live booking per number
and slot. A check-in holds the booking's row while the ticket is issued, so the release sweep (which
updates only rows still booked) can never release a booking being checked in."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from queue_server.domain.appointments import LIVE, Booking, booking_code

LIVE_STATES = [s.value for s in LIVE]
SLOT_COLUMNS = ("s.id, s.center, s.queue, s.starts_at, s.ends_at, s.capacity, "
                "(SELECT count(*) FROM appointments a WHERE a.slot_id = s.id AND a.status = ANY($LIVE::text[]))::int AS taken")


class Refused(Exception):
    """A booking operation that may not happen: ``code`` says why (slot_full, already_booked,
    slot_started, not_found, illegal_transition, below_taken)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _slots_sql(where: str) -> str:
    return f"SELECT {SLOT_COLUMNS.replace('$LIVE', '$1')} FROM appointment_slots s WHERE {where} ORDER BY s.starts_at, s.queue"


def slot_view(r: asyncpg.Record) -> dict[str, Any]:
    return {"id": r["id"], "center": r["center"], "queue": r["queue"], "starts_at": r["starts_at"].isoformat(),
            "ends_at": r["ends_at"].isoformat(), "capacity": r["capacity"], "taken": r["taken"],
            "left": max(0, r["capacity"] - r["taken"])}


async def create_slot(pool: asyncpg.Pool, center: str, queue: str, starts_at: datetime, ends_at: datetime,
                      capacity: int) -> dict[str, Any]:
    try:
        row = await pool.fetchrow(
            "INSERT INTO appointment_slots (center, queue, starts_at, ends_at, capacity) VALUES ($1, $2, $3, $4, $5)"
            " RETURNING id, center, queue, starts_at, ends_at, capacity, 0 AS taken",
            center, queue, starts_at, ends_at, capacity)
    except asyncpg.UniqueViolationError:
        raise Refused("slot_exists", f"{center} already has a slot of {queue} at {starts_at.isoformat()}") from None
    return slot_view(row)


async def slots_of(pool: asyncpg.Pool, center: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    rows = await pool.fetch(_slots_sql("s.center = $2 AND s.starts_at >= $3 AND s.starts_at < $4"),
                            LIVE_STATES, center, since, until)
    return [slot_view(r) for r in rows]


async def slot(pool: asyncpg.Pool | asyncpg.Connection, slot_id: int) -> dict[str, Any] | None:
    row = await pool.fetchrow(_slots_sql("s.id = $2"), LIVE_STATES, slot_id)
    return slot_view(row) if row else None


async def set_capacity(pool: asyncpg.Pool, slot_id: int, capacity: int) -> dict[str, Any]:
    """A new capacity, never below the places already taken."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT id FROM appointment_slots WHERE id = $1 FOR UPDATE", slot_id) is None:
            raise Refused("not_found", f"no slot {slot_id}")
        found = await slot(conn, slot_id)
        assert found is not None
        if capacity < found["taken"]:
            raise Refused("below_taken", f"{found['taken']} places are taken; the capacity cannot go below that")
        await conn.execute("UPDATE appointment_slots SET capacity = $2 WHERE id = $1", slot_id, capacity)
    return {**found, "capacity": capacity, "left": capacity - found["taken"]}


async def book(pool: asyncpg.Pool, slot_id: int, matter: str, phone_sealed: bytes, phone_lookup: bytes,
               now: datetime) -> dict[str, Any]:
    """One place of the slot for the number, or Refused: the slot is full, has begun, or the number
    already holds a place in it."""
    async with pool.acquire() as conn, conn.transaction():
        s = await conn.fetchrow("SELECT id, starts_at, capacity FROM appointment_slots WHERE id = $1 FOR UPDATE", slot_id)
        if s is None:
            raise Refused("not_found", f"no slot {slot_id}")
        if s["starts_at"] <= now:
            raise Refused("slot_started", "the slot has begun: it can no longer be booked")
        taken = await conn.fetchval("SELECT count(*) FROM appointments WHERE slot_id = $1 AND status = ANY($2::text[])",
                                    slot_id, LIVE_STATES)
        if taken >= s["capacity"]:
            raise Refused("slot_full", "every place of this slot is taken")
        for _ in range(5):   # a code already in use (one in 10^12): draw another
            try:
                async with conn.transaction():
                    row = await conn.fetchrow(
                        "INSERT INTO appointments (slot_id, code, matter, phone, phone_lookup, status, booked_at, changed_at)"
                        " VALUES ($1, $2, $3, $4, $5, 'booked', $6, $6) RETURNING *",
                        slot_id, booking_code(), matter, phone_sealed, phone_lookup, now)
                break
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == "appointments_one_per_number":
                    raise Refused("already_booked", "this number already holds a place in this slot") from None
        else:
            raise Refused("code_clash", "no free booking code; retry")
    return dict(row)


async def find(pool: asyncpg.Pool, code: str) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT a.*, s.center, s.queue, s.starts_at, s.ends_at FROM appointments a"
                              " JOIN appointment_slots s ON s.id = a.slot_id WHERE a.code = $1", code)
    return dict(row) if row else None


async def cancel(pool: asyncpg.Pool, code: str, now: datetime) -> dict[str, Any]:
    row = await pool.fetchrow("UPDATE appointments SET status = 'cancelled', changed_at = $2 WHERE code = $1"
                              " AND status = 'booked' RETURNING id", code, now)
    if row is None:
        found = await find(pool, code)
        if found is None:
            raise Refused("not_found", "no such booking")
        raise Refused("illegal_transition", f"the booking is {found['status']}; only a booked one can be cancelled")
    found = await find(pool, code)
    assert found is not None
    return found


async def check_in(pool: asyncpg.Pool, code: str, now: datetime, allowed: Callable[[dict[str, Any]], None],
                   issue: Callable[[dict[str, Any]], Awaitable[str]]) -> tuple[dict[str, Any], bool]:
    """Turn a booking into its ticket: ``allowed`` raises when the booking may not be checked in now,
    ``issue`` makes the ticket (idempotent on the booking) and gives its id. Returns the booking and
    whether this call checked it in (False: it was already, the same ticket)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT a.*, s.center, s.queue, s.starts_at, s.ends_at FROM appointments a"
                                  " JOIN appointment_slots s ON s.id = a.slot_id WHERE a.code = $1 FOR UPDATE OF a", code)
        if row is None:
            raise Refused("not_found", "no such booking")
        booking = dict(row)
        if booking["status"] == Booking.CHECKED_IN:
            return booking, False
        if booking["status"] != Booking.BOOKED:
            raise Refused("illegal_transition", f"the booking is {booking['status']}")
        allowed(booking)
        ticket_id = await issue(booking)
        await conn.execute("UPDATE appointments SET status = 'checked_in', ticket_id = $2, changed_at = $3 WHERE id = $1",
                           booking["id"], ticket_id, now)
    return {**booking, "status": Booking.CHECKED_IN.value, "ticket_id": ticket_id}, True


async def release_overdue(pool: asyncpg.Pool, now: datetime, grace_s: int) -> int:
    """Release every booking not checked in ``grace_s`` after its slot began: its place is free again."""
    rows = await pool.fetch(
        "UPDATE appointments a SET status = 'released', changed_at = $1 FROM appointment_slots s"
        " WHERE a.slot_id = s.id AND a.status = 'booked' AND s.starts_at <= $2 RETURNING a.id",
        now, now - timedelta(seconds=grace_s))
    return len(rows)
