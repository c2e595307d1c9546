"""The links `queue-server demo` prints: every API entry point, and every page of one demo center
with a token of its own so each link works as it is; the demo ticket's status page carries its web
review link, as the printed ticket's QR does."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from evaluation import links
from evaluation.config import EvalConfig

from .clock import SystemClock
from .config import Settings
from .record.demo_data import demo_slots
from .record.people import create_token

DEMO_WINDOW = "w1"
DEMO_MATTER = "hrss-001"

# (label, path template, token kind: a device kind, "staff", "remote staff" (r1's, which serves sp1: its
# console opens the video with sp1's screen), "manager", "auditor" (the center's), "point screen" or "point assistant" (sp1's), or
# None for a public page)
PAGES: list[tuple[str, str, str | None]] = [
    ("call display", "/display/{center}", "display"),
    ("window screen", "/screen/{center}/{window}", "screen"),
    ("review tablet", "/tablet/{center}/{window}", "tablet"),
    ("kiosk", "/kiosk/{center}", "kiosk"),
    ("service point", "/kiosk/{center}?service_point=sp1", "kiosk"),
    ("staff console", "/staff/{center}/{window}", "staff"),
    ("remote window console", "/staff/{center}/r1", "remote staff"),
    ("point screen", "/point/{center}-sp1", "point screen"),
    ("point assistant", "/assistant/{center}-sp1", "point assistant"),
    ("service points", "/network/{center}", "manager"),
    ("door cases", "/door/{center}", "manager"),
    ("home visit", "/door/{center}/visit?visitor={center}-s01", "staff"),
    ("appointment slots", "/appointments/{center}", "manager"),
    ("device inspections", "/inspections/{center}", "staff"),
    ("book appointment", "/book/{center}", None),
    ("ticket status", "/status/{ticket}#review={review}", None),
    ("remote ticket", "/remote?center={center}", None),
    ("ops dashboard", "/dashboard", "dashboard"),
    ("log in", "/login", None),
    ("accounts admin", "/admin", "manager"),
    ("device enrollment", "/enroll", None),
    ("audit log", "/audit", "auditor"),
]
# Accounts to log in with at /login (one password for all: it is a demo), and where each leads.
DEMO_PASSWORD = "demo-password"
DEMO_ACCOUNTS = [("demo.clerk", "演示窗口人员", "clerk", DEMO_WINDOW, "staff console"),
                 ("demo.manager", "演示中心主任", "manager", None, "dashboard"),
                 ("demo.admin", "演示区管理员", "admin", None, "accounts admin")]


async def _page_token(pool: asyncpg.Pool, kind: str, center: str, label: str) -> str:
    if kind == "staff":
        return await create_token(pool, "staff", center, DEMO_WINDOW, f"{center}-s01", None, f"demo {label}")
    if kind == "remote staff":
        return await create_token(pool, "staff", center, "r1", f"{center}-s02", None, f"demo {label}")
    if kind == "manager":
        return await create_token(pool, "manager", center, label=f"demo {label}")
    if kind == "auditor":
        return await create_token(pool, "auditor", center, label=f"demo {label}")
    if kind == "point assistant":
        return await create_token(pool, "assistant", center, label=f"demo {label}", point="sp1")
    if kind == "point screen":
        return await create_token(pool, "device", center, None, None, "screen", f"demo {label}", point="sp1")
    window = DEMO_WINDOW if kind in ("screen", "tablet") else None
    return await create_token(pool, "device", center, window, None, kind, f"demo {label}")


async def _demo_accounts(pool: asyncpg.Pool, center: str) -> list[tuple[str, str]]:
    """The demo accounts (made once; a later demo keeps them as they are), with where each leads."""
    from .accounts.passwords import hash_password
    from .accounts.store import add_user

    for name, display, role, window, _ in DEMO_ACCOUNTS:
        if await pool.fetchval("SELECT 1 FROM users WHERE username = $1", name) is None:
            await add_user(pool, name, display, role, None if role == "admin" else center, window,
                           f"{center}-s01" if role == "clerk" else None, await hash_password(DEMO_PASSWORD))
    return [(name, leads) for name, _, _, _, leads in DEMO_ACCOUNTS]


async def _demo_ticket(pool: asyncpg.Pool, center: str) -> str:
    """A ticket for the status page link: issued once per service day (idempotent on the day)."""
    from .engine.connection import redis_client
    from .domain.numbering import service_day
    from .engine.keys import Keys
    from .engine.queue_engine import QueueEngine
    from .record.catalog import load_catalog
    from .record.rebuild import rebuild_if_lost

    settings = Settings.from_env()
    redis = redis_client(settings.redis_url)  # type: ignore[arg-type]
    try:
        clock = SystemClock()
        catalog = await load_catalog(pool)
        # What the server does on start: a Redis without the hot state gets it back (or is marked
        # fresh) before any ticket is numbered.
        await rebuild_if_lost(redis, pool, Keys(settings.key_prefix), catalog, clock)
        engine = QueueEngine(redis, catalog, settings, clock, pool)
        day = service_day(clock.now_ms(), engine.center(center).timezone)
        pos = await engine.issue(center, DEMO_MATTER, "kiosk", idempotency_key=f"demo-status-{day}")
        return pos.ticket["id"]
    finally:
        await redis.aclose()


async def demo_links(pool: asyncpg.Pool, base: str, center: str, admin_token: str) -> list[str]:
    api = [
        ("health", f"{base}/healthz   {base}/readyz"),
        ("OpenAPI", f"{base}/openapi.json"),
        ("centers", f"{base}/api/v1/centers"),
        ("center", f"{base}/api/v1/centers/{center}"),
        ("matters", f"{base}/api/v1/matters?center={center}"),
        ("live queue", f"{base}/api/v1/centers/{center}/queue"),
        ("network map", f"{base}/api/v1/map.geojson   {base}/api/v1/map.csv (admin token)"),
        ("persister lag", f"{base}/api/v1/ops/persister"),
        ("admin token", f"Authorization: Bearer {admin_token}"),
    ]
    ticket = await _demo_ticket(pool, center)
    await demo_slots(pool, center, datetime.now(ZoneInfo("Asia/Shanghai")).date())   # for the booking page
    # One single-use review link for the demo ticket: what the kiosk puts in a printed ticket's QR.
    ttl_h = EvalConfig.from_settings(Settings.from_env()).link_ttl_h
    review, _ = await links.mint(pool, ticket, 1, SystemClock().now_ms(), ttl_h)
    pages = []
    for label, path, kind in PAGES:
        url = base + path.format(center=center, window=DEMO_WINDOW, ticket=ticket, review=review)
        if kind:
            token = await _page_token(pool, kind, center, label)
            url += ("&" if "?" in url else "?") + f"token={token}"
        pages.append((label, url))
    pages.append(("web review", links.url(base, review)))
    pages.append(("log-ins", f"password {DEMO_PASSWORD}: " + ", ".join(
        f"{name} ({leads})" for name, leads in await _demo_accounts(pool, center))))
    pages.append(("", "(the demo ticket's review: it opens once the ticket is finished at the staff console,"))
    pages.append(("", " 开窗 → 叫下一位 → 开始办理 → 办结; the ticket status page then offers it too)"))
    width = max(len(label) for label, _ in api + pages) + 2   # every URL starts in one column, after the longest label
    return (["API"] + [f"  {label:<{width}}{text}" for label, text in api]
            + [f"Pages of {center} (window {DEMO_WINDOW})"] + [f"  {label:<{width}}{text}" for label, text in pages])
