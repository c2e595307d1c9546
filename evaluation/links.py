"""Web review links: an unguessable secret in the URL, kept only as its SHA-256, good for one rating
and until it expires. A link for round 2 carries the follow-up rating after a rectification."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from queue_server.clock import from_ms
from queue_server.record.people import token_hash

PATH = "/review/"


@dataclass(frozen=True)
class Link:
    ticket_id: str
    round: int
    expires_at: datetime
    used_at: datetime | None


def url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}{PATH}{token}"


async def mint(conn: asyncpg.Connection | asyncpg.Pool, ticket_id: str, round_: int, now_ms: int, ttl_h: int) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(24)
    now = from_ms(now_ms)
    expires = now + timedelta(hours=ttl_h)
    await conn.execute("INSERT INTO review_links (token_hash, ticket_id, round, created_at, expires_at)"
                       " VALUES ($1, $2, $3, $4, $5)", token_hash(token), ticket_id, round_, now, expires)
    return token, expires


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
