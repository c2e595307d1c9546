"""``queue-server door-list`` and ``queue-server door-figures``: the service lists and the figures
from the command line, against the same database as the server (the API does the same)."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from queue_server.config import Settings
from queue_server.domain.door import DISTRICT, list_problems

from . import store
from .figures import figures


def _shown(row: Any) -> dict[str, Any]:
    return {"scope": row["scope"], "version": row["version"], "items": json.loads(row["items"]), "note": row["note"],
            "changed_by": row["changed_by"], "changed_at": row["changed_at"].isoformat()}


async def _list(dsn: str, scope: str, version: int | None, file: Path | None, note: str) -> dict[str, Any]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        if scope != DISTRICT and not await pool.fetchval("SELECT 1 FROM centers WHERE code = $1", scope):
            raise ValueError(f"no list {scope!r}: 'district' or a center's code")
        if file is not None:
            raw = json.loads(file.read_text(encoding="utf-8"))
            items = raw["items"] if isinstance(raw, dict) else raw
            pairs = [(str(i.get("matter")), str(i.get("difficulty"))) for i in items]
            known = {r["code"] for r in await pool.fetch("SELECT code FROM matters")}
            problems = list_problems(pairs, known)
            if problems:
                raise ValueError("; ".join(f"item {i}: {m}" for i, m in problems))
            row = await store.save_list(pool, scope, [{"matter": m, "difficulty": d} for m, d in pairs], note, "cli",
                                        time.time_ns() // 1_000_000)
        elif version is not None:
            row = await store.list_version(pool, scope, version)
        else:
            row = await store.current_list(pool, scope)
        if row is None:
            raise ValueError(f"list {scope!r} has no version {version}" if version else f"list {scope!r} is empty")
        return _shown(row)
    finally:
        await pool.close()


def cmd_list(args: argparse.Namespace) -> None:
    from queue_server.cli import services

    with services(Settings.from_env()) as settings:
        try:
            shown = asyncio.run(_list(settings.database_url, args.scope, args.version,  # type: ignore[arg-type]
                                      Path(args.set) if args.set else None, args.note))
        except (ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
            sys.exit(f"queue-server door-list: {exc}")
        print(json.dumps(shown, ensure_ascii=False, indent=2))


def cmd_figures(args: argparse.Namespace) -> None:
    from queue_server.cli import services

    async def read(dsn: str, tz: str) -> dict[str, Any]:
        today = datetime.now(ZoneInfo(tz)).date()
        until = date.fromisoformat(args.until) if args.until else today
        since = date.fromisoformat(args.since) if args.since else until - timedelta(days=29)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        try:
            return await figures(pool, args.center, since, until, tz, today)
        finally:
            await pool.close()

    with services(Settings.from_env()) as settings:
        try:
            print(json.dumps(asyncio.run(read(settings.database_url, settings.timezone)),  # type: ignore[arg-type]
                             ensure_ascii=False, indent=2))
        except ValueError as exc:
            sys.exit(f"queue-server door-figures: {exc}")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("door-list", help="show a door-to-door service list, or --set a new version of it from a JSON file")
    p.add_argument("scope", help="'district', or a center's code for its own additions")
    p.add_argument("--version", type=int, help="an earlier version")
    p.add_argument("--set", metavar="FILE.json", help='[{"matter": CODE, "difficulty": "simple"|"complex"}, ...]')
    p.add_argument("--note", default="", help="what changed and why (with --set)")
    p.set_defaults(fn=cmd_list)
    p = sub.add_parser("door-figures", help="door-to-door figures: cases by stage, median days to visit and to"
                                            " approval, satisfaction (JSON)")
    p.add_argument("--since", help="YYYY-MM-DD (default: 30 days to --until)")
    p.add_argument("--until", help="YYYY-MM-DD, inclusive (default: today)")
    p.add_argument("--center", help="one center (default: the district)")
    p.set_defaults(fn=cmd_figures)
