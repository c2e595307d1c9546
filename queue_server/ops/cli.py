"""``queue-server report``: a report from the record to a file or stdout, as CSV (UTF-8 with BOM when
written to a file, for Excel) or JSON. The same figures as ``GET /api/v1/ops/reports``."""
from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime, timezone

from ..config import Settings
from .config import OpsConfig
from .reports import DIMENSIONS, PERIODS, ReportError, ReportQuery, write_report


def cmd_report(args: argparse.Namespace) -> None:
    from ..cli import services

    with services(Settings.from_env()) as settings:
        try:
            q = ReportQuery(date.fromisoformat(args.since), date.fromisoformat(args.until),
                            tuple(b.strip() for b in args.by.split(",") if b.strip()), args.period, args.center,
                            OpsConfig.from_settings(settings).service_level_s, settings.timezone,
                            datetime.now(timezone.utc))
        except (ReportError, ValueError) as exc:
            sys.exit(f"queue-server report: {exc}")
        out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8", newline="")
        try:
            n = asyncio.run(write_report(settings.database_url, q, out, args.format, bom=out is not sys.stdout))  # type: ignore[arg-type]
        finally:
            if out is not sys.stdout:
                out.close()
        print(f"wrote {n} report rows", file=sys.stderr)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="volumes, waits (p50/p90), handling, no-shows, transfers and ratings from the record;"
                                      " by staff also each clerk's time on duty, serving, idle and paused")
    p.add_argument("--since", required=True, help="YYYY-MM-DD")
    p.add_argument("--until", required=True, help="YYYY-MM-DD (inclusive)")
    p.add_argument("--by", default="center", help=f"comma-separated, among {', '.join(DIMENSIONS)} (empty: the district)")
    p.add_argument("--period", default="day", choices=list(PERIODS))
    p.add_argument("--center")
    p.add_argument("--format", default="csv", choices=["csv", "json"])
    p.add_argument("--out", default="-")
    p.set_defaults(fn=cmd_report)
