"""``queue-server user`` and ``queue-server tokens``: accounts and tokens from the command line, for
the first admin account and for whoever holds the database. A revocation made here is published like
one made through the API, so every running server refuses the token within a second."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from ..config import Settings
from ..domain.accounts import PASSWORD_MAX, PASSWORD_MIN
from . import store
from .passwords import hash_password


def _password() -> str:
    """From ``QUEUE_NEW_PASSWORD`` (scripts), else asked twice without echo."""
    password = os.environ.get("QUEUE_NEW_PASSWORD") or getpass.getpass("password: ")
    if "QUEUE_NEW_PASSWORD" not in os.environ and getpass.getpass("again: ") != password:
        sys.exit("the passwords differ; nothing changed")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        sys.exit(f"a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters; nothing changed")
    return password


async def _publish(settings: Settings, hashes: list[str]) -> None:
    """Every running server forgets these tokens and closes their sockets (devices/watch.py listens)."""
    from ..app import redis_client
    from ..engine.keys import Keys

    redis = redis_client(settings.redis_url)  # type: ignore[arg-type]
    try:
        for digest in hashes:
            await redis.publish(Keys(settings.key_prefix).device_revocations(), digest)
    finally:
        await redis.aclose()


def _run(work: Callable[[asyncpg.Pool, Settings], Awaitable[Any]]) -> Any:
    from ..cli import services

    async def go(settings: Settings) -> Any:
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            return await work(pool, settings)
        finally:
            await pool.close()

    with services(Settings.from_env()) as settings:
        return asyncio.run(go(settings))


def cmd_user(args: argparse.Namespace) -> None:
    async def work(pool: asyncpg.Pool, settings: Settings) -> str:
        if args.action == "add":
            if args.role in ("clerk", "manager") and not args.center:
                sys.exit(f"a {args.role} needs --center")
            try:
                made = await store.add_user(pool, args.username, args.name or args.username, args.role, args.center,
                                            args.window, args.staff, await hash_password(_password()))
            except asyncpg.PostgresError as exc:
                sys.exit(f"nothing created: {exc}")
            if made is None:
                sys.exit(f"the username {args.username!r} is taken")
            return json.dumps(made, ensure_ascii=False)
        if args.action == "password":
            ended = await store.set_password(pool, args.username, await hash_password(_password()))
        elif args.action == "disable":
            ended = await store.disable(pool, args.username)
        else:
            ended = [] if await store.unlock(pool, args.username) else None
        if ended is None:
            sys.exit(f"no account {args.username!r}")
        await _publish(settings, ended)
        return f"{args.action}: {args.username} ({len(ended)} login(s) ended)"

    print(_run(work))


def cmd_tokens(args: argparse.Namespace) -> None:
    async def work(pool: asyncpg.Pool, settings: Settings) -> str:
        if args.action == "list":
            return "\n".join(json.dumps(t, ensure_ascii=False) for t in await store.tokens(pool, args.center))
        row = await store.find_token_row(pool, args.id)
        if row is None:
            sys.exit(f"no valid token {args.id!r} (see `queue-server tokens list`)")
        if args.action == "revoke":
            await _publish(settings, await store.revoke_token(pool, args.id))
            return f"revoked {args.id}"
        made = await store.rotate_token(pool, row)
        if made is None:
            sys.exit("the token was rotated or revoked meanwhile")
        await _publish(settings, made[1])
        return made[0]

    print(_run(work))


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("user", help="accounts: add (password asked, or QUEUE_NEW_PASSWORD), password, unlock, disable")
    p.add_argument("action", choices=["add", "password", "unlock", "disable"])
    p.add_argument("username")
    p.add_argument("--role", choices=["clerk", "manager", "admin", "auditor"], default="clerk")
    p.add_argument("--center")
    p.add_argument("--window", help="a clerk's window: their login opens its staff console")
    p.add_argument("--staff", help="the staff id of a clerk")
    p.add_argument("--name", help="the display name (default: the username)")
    p.set_defaults(fn=cmd_user)
    p = sub.add_parser("tokens", help="valid tokens: list [--center]; revoke ID or rotate ID (prints the new token);"
                                      " running servers take it within a second")
    p.add_argument("action", choices=["list", "revoke", "rotate"])
    p.add_argument("id", nargs="?", help="the token's id (its SHA-256, from list)")
    p.add_argument("--center")
    p.set_defaults(fn=cmd_tokens)
