"""``queue-server``: serve (production), demo (embedded services + Jing'an data + page URLs),
migrate, import, export, calendar, report, token, user, tokens."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from door.cli import add_parsers as add_door_parsers
from remote_session.config import SessionConfig

from .config import TIERS, Settings
from .tiers import lower_priority
from .record.personal import DEMO_KEY
from .realtime.config import RealtimeConfig
from .accounts.cli import add_parsers as add_account_parsers
from .ops.cli import add_parser as add_report_parser

log = logging.getLogger("queue_server")


@contextlib.contextmanager
def services(settings: Settings) -> Iterator[Settings]:
    """Use REDIS_URL / DATABASE_URL when set, else start the embedded ones under the data folder."""
    with contextlib.ExitStack() as stack:
        redis_url, database_url = settings.redis_url, settings.database_url
        from .embedded import embedded_postgres, embedded_redis

        if not redis_url:
            redis_url = stack.enter_context(embedded_redis(settings.data_dir / "redis", unix_socket=True))
            print(f"embedded Redis       {redis_url}  (data in {settings.data_dir / 'redis'})", flush=True)
        if not database_url:
            database_url = stack.enter_context(embedded_postgres(settings.data_dir / "postgres"))
            print(f"embedded PostgreSQL  (data in {settings.data_dir / 'postgres'})", flush=True)
        os.environ["REDIS_URL"], os.environ["DATABASE_URL"] = redis_url, database_url
        yield Settings.from_env()


async def _migrate(settings: Settings, demo: bool) -> None:
    from .record.demo_data import load_demo
    from .record.migrate import migrate

    conn = await asyncpg.connect(settings.database_url)
    try:
        applied = await migrate(conn)
        for name in applied:
            print(f"applied migration {name}")
        if demo:
            await load_demo(conn)
    finally:
        await conn.close()


# How the app is served, wherever it is started (here, and the tests' and benchmarks' server
# processes through ``uvicorn_flags``): no per-message deflate (small messages, thousands of
# sockets), and protocol pings every 5 minutes, not uvicorn's 20 s: the hub pings a silent socket
# every 15 s and the pages send heartbeats, so these only find dead peers, and at 25,000 screens one a
# minute cost a sockets process 2.5-3.5 % of its CPU. The kernel finds a dead peer within 60 s
# (``api/ws_protocol.py``); the pings remain for one behind a proxy, whose kernel acknowledges for it.
# A client message over what clients may send is refused by the server with 1009 while it arrives,
# not buffered up to uvicorn's default 16 MiB first: the largest is a video session's SDP offer
# (``SessionConfig.max_message_bytes``); the live screens' sockets refuse anything over their own
# ``RealtimeConfig.max_in_bytes`` once it is read.
UVICORN_WS = {"ws": "queue_server.api.ws_protocol:WebSocketProtocol", "ws_per_message_deflate": False,
              "ws_ping_interval": 300.0, "ws_ping_timeout": 30.0,
              "ws_max_size": max(RealtimeConfig.max_in_bytes, SessionConfig.max_message_bytes)}
# On SIGTERM uvicorn stops listening, closes every websocket with 1012 (the pages come back to another
# instance with their cursor), then waits this long for requests in flight before cancelling them and
# running the app's shutdown (the consumers ack what they took). docker-compose's stop_grace_period is longer.
GRACEFUL_SHUTDOWN_S = 20
# A response's head and body in one write (``api/http_protocol.py``).
UVICORN = {**UVICORN_WS, "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
           "http": "queue_server.api.http_protocol:HeadWithBodyProtocol"}


def uvicorn_flags() -> list[str]:
    """``UVICORN`` as uvicorn's command-line options."""
    return [a for k, v in UVICORN.items()
            for a in ("--" + k.replace("_", "-"), str(v).lower() if isinstance(v, bool) else str(v))]


@contextlib.contextmanager
def server_process(env: dict[str, str], port: int | None = None, app: str = "queue_server.app:create_app",
                   workers: int = 1, ready_s: float = 60.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """The app (or another ASGI ``app`` factory) served the same way as a child process on loopback,
    yielded with its base URL once ``/readyz`` answers: the real server processes of tests and
    benchmarks. ``env`` is the whole environment of the child."""
    from .embedded import free_port

    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log", *uvicorn_flags()],
        env=env, cwd=Path(__file__).resolve().parent.parent)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready")
            time.sleep(0.1)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _run_server(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run("queue_server.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False, **UVICORN)


def _check_port(host: str, port: int) -> None:
    """Say a taken port before anything starts (services, URLs), and how to choose another."""
    from .embedded import port_taken

    if port_taken(host, port):
        sys.exit(f"queue-server: port {port} on {host} is already in use (another server, or an earlier demo still "
                 f"running).\nChoose another port with --port, e.g. --port {port + 1}, or PORT={port + 1} in the environment.")


def cmd_serve(args: argparse.Namespace) -> None:
    _check_port(args.host, args.port)
    if args.tier:
        os.environ["QUEUE_TIER"] = args.tier   # the workers read their settings from the environment
    with services(Settings.from_env()) as settings:
        asyncio.run(_migrate(settings, demo=False))
        lower_priority(settings.tier, settings.background_nice, settings.sockets_nice)   # its workers inherit it
        print(f"serving on http://{args.host}:{args.port}", flush=True)
        _run_server(settings, args.host, args.port, args.workers)


def cmd_demo(args: argparse.Namespace) -> None:
    _check_port(args.host, args.port)
    if not os.environ.get("QUEUE_ADMIN_TOKEN"):
        os.environ["QUEUE_ADMIN_TOKEN"] = "demo-admin-token"
    os.environ.setdefault("QUEUE_PERSONAL_DATA_KEY", DEMO_KEY)   # public: the demo's residents are made up
    with services(Settings.from_env()) as settings:
        asyncio.run(_migrate(settings, demo=True))
        base = f"http://{args.host}:{args.port}"
        os.environ.setdefault("QUEUE_PUBLIC_BASE_URL", base)
        hours = asyncio.run(_demo_hours(settings, args.center, args.open_all_hours))
        asyncio.run(_print_demo_urls(settings, base, args.center, hours))
        _run_server(Settings.from_env(), args.host, args.port, 1)


async def _print_demo_urls(settings: Settings, base: str, center: str, hours: str) -> None:
    from .demo_pages import demo_links

    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        lines = await demo_links(pool, base, center, settings.admin_token or "")
    finally:
        await pool.close()
    print("\nJing'an Neighborhood Assistance queue server (demo)\n", flush=True)
    for line in lines:
        print(line, flush=True)
    print(f"\n{hours}", flush=True)
    print("\nCtrl-C stops the server and the embedded services.\n", flush=True)


async def _demo_hours(settings: Settings, center: str, all_hours: bool) -> str:
    """The demo centers' real hours, or (``--open-all-hours``) around the clock, and what that means
    now: at night the kiosk rightly says it is closed, so the demo says how to try it anyway."""
    from .clock import SystemClock, from_ms
    from .domain.calendar import opening_text
    from .record.calendar import load_calendar, open_all_hours
    from .record.demo_data import CENTERS

    conn = await asyncpg.connect(settings.database_url)
    try:
        codes = [c["code"] for c in CENTERS]
        if all_hours:
            await open_all_hours(conn, codes)
        else:
            await conn.executemany("UPDATE centers SET hours = $2::jsonb WHERE code = $1",
                                   [(c["code"], json.dumps(c["hours"])) for c in CENTERS])
        opening = (await load_calendar(conn)).opening(center, from_ms(SystemClock().now_ms()))
    finally:
        await conn.close()
    if opening.open:
        return f"Opening hours: {center} is open now" + (" (--open-all-hours: around the clock)" if all_hours else "")
    when = opening_text(opening.next_opening) if opening.next_opening else "not within a year"
    return (f"Opening hours: {center} is closed now; it opens {when}. The kiosk shows 暂停取号 / Closed;\n"
            "  staff may still issue tickets (POST .../tickets with \"channel\": \"staff\" and a staff or admin token),\n"
            "  or restart with `./dev demo --open-all-hours` to try every page at any hour (docs/calendar.md).")


def cmd_calendar(args: argparse.Namespace) -> None:
    from .domain.calendar import HoursError
    from .record.calendar import store_calendar_file

    async def store(settings: Settings) -> dict[str, int]:
        from .engine.connection import redis_client
        from .engine.keys import Keys

        conn = await asyncpg.connect(settings.database_url)
        try:
            counts = await store_calendar_file(conn, Path(args.file))
        finally:
            await conn.close()
        redis = redis_client(settings.redis_url)  # type: ignore[arg-type]
        try:   # every running server reloads its calendar on this
            await redis.publish(Keys(settings.key_prefix).calendar_changes(), b"file")
        finally:
            await redis.aclose()
        return counts

    with services(Settings.from_env()) as settings:
        try:
            counts = asyncio.run(store(settings))
        except HoursError as exc:
            sys.exit(f"{args.file}: {exc.field}: {exc.message} (nothing stored)")
        print(json.dumps(counts), "- running servers take it at once", flush=True)


def cmd_migrate(args: argparse.Namespace) -> None:
    with services(Settings.from_env()) as settings:
        asyncio.run(_migrate(settings, demo=args.demo))


def cmd_token(args: argparse.Namespace) -> None:
    from .record.people import create_token

    if args.role == "assistant" and not args.point:
        sys.exit("an assistant token needs --point: the service point the assistant works at")

    async def make() -> str:
        pool = await asyncpg.create_pool(Settings.from_env().database_url, min_size=1, max_size=2)
        try:
            return await create_token(pool, args.role, args.center, args.window, args.staff, args.device, args.label,
                                      args.point)
        finally:
            await pool.close()

    with services(Settings.from_env()):
        print(asyncio.run(make()))


def cmd_rekey(args: argparse.Namespace) -> None:
    from .record.personal import PersonalData
    from .record.phones import rekey

    async def run(settings: Settings) -> int:
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            return await rekey(pool, PersonalData.from_settings(settings))
        finally:
            await pool.close()

    with services(Settings.from_env()) as settings:
        print(f"re-sealed {asyncio.run(run(settings))} phone numbers under the current key", file=sys.stderr)


def cmd_import(args: argparse.Namespace) -> None:
    from .record.importer import import_catalog

    with services(Settings.from_env()) as settings:
        try:
            counts = asyncio.run(import_catalog(settings.database_url, Path(args.file)))  # type: ignore[arg-type]
        except (ValueError, asyncpg.PostgresError) as exc:
            sys.exit(f"nothing imported: {exc}")
        print(json.dumps(counts, ensure_ascii=False))


def cmd_export(args: argparse.Namespace) -> None:
    from .record.exporter import export_points, export_tickets

    if not args.points and not (args.since and args.until):
        sys.exit("export tickets needs --since and --until (or --points for the service points)")
    fmt = args.format or ("json" if args.out.endswith(".json") else "csv")
    with services(Settings.from_env()) as settings:
        out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8",
                                                      newline="")
        try:
            if args.points:
                n = asyncio.run(export_points(settings.database_url, args.center, out, fmt))  # type: ignore[arg-type]
            else:
                n = asyncio.run(export_tickets(settings.database_url, args.since, args.until, args.center, out))  # type: ignore[arg-type]
        finally:
            if out is not sys.stdout:
                out.close()
        print(f"exported {n} {'service points' if args.points else 'tickets'}", file=sys.stderr)


def cmd_partitions(args: argparse.Namespace) -> None:
    from .clock import SystemClock
    from .record.partitions import PartitionMaintainer, partitions

    async def run(settings: Settings) -> None:
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            if args.apply:
                done = await PartitionMaintainer(pool, SystemClock(), settings.record_partitions_ahead,
                                                 settings.record_retention_months).once()
                print(f"created: {', '.join(done['created']) or 'none'}; detached: {', '.join(done['detached']) or 'none'}",
                      file=sys.stderr)
            async with pool.acquire() as conn:
                found = await partitions(conn)
        finally:
            await pool.close()
        print(f"{'table':<8} {'partition':<18} {'month':<8} {'state':<9} {'rows (est.)':>12} {'size':>10}")
        for p in found:
            print(f"{p.parent:<8} {p.name:<18} {p.month.strftime('%Y-%m') if p.month else 'other':<8}"
                  f" {'attached' if p.attached else 'DETACHED':<9} {p.rows:>12,} {p.bytes / 2**20:>7,.1f} MiB")

    with services(Settings.from_env()) as settings:
        asyncio.run(run(settings))


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="queue-server", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn in (("serve", cmd_serve), ("demo", cmd_demo)):
        p = sub.add_parser(name)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        p.set_defaults(fn=fn)
        if name == "serve":
            p.add_argument("--workers", type=int, default=1)
            p.add_argument("--tier", choices=TIERS, help="what this server serves (else QUEUE_TIER, else all):"
                           " all; http (the API, pages and the record's background work); sockets (the websockets,"
                           " the stream reader, the live figures); api (http without the background work);"
                           " background (that work alone, at a lower CPU priority)")
        else:
            p.add_argument("--center", default="jingansi", help="the center whose page URLs are printed")
            p.add_argument("--open-all-hours", action="store_true",
                           help="open the demo centers around the clock (else their real hours: closed at night)")
    p = sub.add_parser("migrate")
    p.add_argument("--demo", action="store_true", help="also load the Jing'an demo catalog")
    p.set_defaults(fn=cmd_migrate)
    p = sub.add_parser("token", help="create a manager, staff, device, service point assistant or auditor token")
    p.add_argument("role", choices=["manager", "staff", "device", "assistant", "auditor"])
    p.add_argument("center")
    p.add_argument("--window")
    p.add_argument("--staff")
    p.add_argument("--device", choices=["kiosk", "display", "screen", "tablet", "dashboard"])
    p.add_argument("--label", default="")
    p.add_argument("--point", help="a service point's code: the device (its screen or tablet) or the assistant belongs"
                                   " to that point (required for an assistant)")
    p.set_defaults(fn=cmd_token)
    p = sub.add_parser("rekey", help="after a key rotation, re-seal and re-hash every stored phone number under"
                                     " QUEUE_PERSONAL_DATA_KEY (old keys in QUEUE_PERSONAL_DATA_OLD_KEYS)")
    p.set_defaults(fn=cmd_rekey)
    p = sub.add_parser("import", help="import a catalog JSON file (centers, matters, queues, windows, service"
                                      " points, remote assignments, staff) or a CSV file of service points")
    p.add_argument("file")
    p.set_defaults(fn=cmd_import)
    p = sub.add_parser("calendar", help="store the operator's calendar file (closures, special hours, official days)")
    p.add_argument("file", help="a TOML file; see docs/calendar.md")
    p.set_defaults(fn=cmd_calendar)
    p = sub.add_parser("export", help="export tickets as CSV (UTF-8 with BOM), or --points: the service points")
    p.add_argument("--since", help="YYYY-MM-DD")
    p.add_argument("--until", help="YYYY-MM-DD (inclusive)")
    p.add_argument("--points", action="store_true", help="the service points (CSV, or JSON with their assignments)")
    p.add_argument("--format", choices=["csv", "json"], help="for --points; by default from --out's suffix, else csv")
    p.add_argument("--center")
    p.add_argument("--out", default="-")
    p.set_defaults(fn=cmd_export)
    p = sub.add_parser("partitions", help="list the record's months (tickets and events by month: rows, size, attached"
                                          " or detached); --apply: create the months ahead and detach by the retention now")
    p.add_argument("--apply", action="store_true", help="run the maintainer's round once (QUEUE_RECORD_PARTITIONS_AHEAD,"
                                                        " QUEUE_RECORD_RETENTION_MONTHS), as every server does daily")
    p.set_defaults(fn=cmd_partitions)
    add_report_parser(sub)
    add_account_parsers(sub)
    add_door_parsers(sub)
    args = parser.parse_args(argv)
    try:
        if args.command in AUDITED_COMMANDS:
            _audited(args)
        else:
            args.fn(args)
    except KeyboardInterrupt:
        pass


# Commands that change tokens, accounts, the catalog, the calendar or stored keys: in the audit log.
AUDITED_COMMANDS = {"token", "user", "tokens", "import", "calendar", "rekey"}


def _audited(args: argparse.Namespace) -> None:
    """Run an administrator's command and write it to the audit log, done (200) or refused (400)."""
    from .audit.trail import record_command

    params = {k: str(v) for k, v in vars(args).items() if k not in ("fn", "command") and v not in (None, False, "")}
    with services(Settings.from_env()) as settings:
        outcome = 400
        try:
            args.fn(args)
            outcome = 200
        finally:
            try:
                asyncio.run(record_command(settings.database_url, args.command, params, outcome))  # type: ignore[arg-type]
            except (OSError, asyncpg.PostgresError) as exc:
                print(f"could not write the audit log: {type(exc).__name__}", file=sys.stderr)
