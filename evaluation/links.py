"""Web review links: an unguessable secret in the URL, kept only as its SHA-256, good for one rating
and until it expires. A link for round 2 carries the follow-up rating after a rectification.

A ticket's round has at most one live link: the kiosk mints one at issue for the printed QR, the tablet
and the SMS prompt mint again later, and all must point at the same rating, so minting while a link is
live gives that link back. The token is therefore derived — an HMAC of the ticket, round and creation
time under a key kept in PostgreSQL (migration 044) — and can be given again without being stored."""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg

from queue_server.clock import from_ms
from queue_server.record.people import token_hash

PATH = "/review/"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Link:
    ticket_id: str
    round: int
    expires_at: datetime
    used_at: datetime | None


def url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}{PATH}{token}"


async def mint(pool: asyncpg.Pool, ticket_id: str, round_: int, now_ms: int, ttl_h: int) -> tuple[str, datetime]:
    """The live link of this ticket's round, made if there is none (unused and unexpired); concurrent
    mints of one ticket wait on each other, so they all give one link."""
    now = from_ms(now_ms)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 44))", f"review-link:{ticket_id}:{round_}")
        key = await conn.fetchval("SELECT secret FROM review_link_key")
        for live in await conn.fetch("SELECT token_hash, created_at, expires_at FROM review_links WHERE ticket_id = $1"
                                     " AND round = $2 AND used_at IS NULL AND expires_at > $3 ORDER BY created_at DESC",
                                     ticket_id, round_, now):
            token = _derive(key, ticket_id, round_, live["created_at"])
            if token_hash(token) == live["token_hash"]:  # links drawn at random before 044 cannot be given again
                return token, live["expires_at"]
        # each link of a ticket's round has its own creation time, so its own secret: one used this very
        # millisecond does not come back
        latest = await conn.fetchval("SELECT max(created_at) FROM review_links WHERE ticket_id = $1 AND round = $2",
                                     ticket_id, round_)
        created = now if latest is None or latest < now else latest + timedelta(microseconds=1)
        token = _derive(key, ticket_id, round_, created)
        expires = now + timedelta(hours=ttl_h)
        await conn.execute("INSERT INTO review_links (token_hash, ticket_id, round, created_at, expires_at)"
                           " VALUES ($1, $2, $3, $4, $5)", token_hash(token), ticket_id, round_, created, expires)
        return token, expires


def _derive(key: str, ticket_id: str, round_: int, created_at: datetime) -> str:
    message = f"{ticket_id}\n{round_}\n{(created_at - _EPOCH) // timedelta(microseconds=1)}".encode()
    return base64.urlsafe_b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()[:24]).decode()


async def find(conn: asyncpg.Connection | asyncpg.Pool, token: str) -> Link | None:
    if not 16 <= len(token) <= 64:
        return None
    r = await conn.fetchrow("SELECT ticket_id, round, expires_at, used_at FROM review_links WHERE token_hash = $1",
                            token_hash(token))
    return Link(r["ticket_id"], r["round"], r["expires_at"], r["used_at"]) if r else None


async def consume(conn: asyncpg.Connection, token: str, ticket_id: str, now: datetime) -> int | None:
    """Use the link up inside the rating's transaction; None if it was used, expired or is another ticket's."""
    return await conn.fetchval(
        "UPDATE review_links SET used_at = $3 WHERE token_hash = $1 AND ticket_id = $2 AND used_at IS NULL"
        " AND expires_at > $3 RETURNING round", token_hash(token), ticket_id, now)
