"""The links `queue-server demo` prints: every API entry point, and every page of one demo center
with a device token of its own so each link works as it is."""
from __future__ import annotations

import asyncpg

from .record.people import create_token

PAGES: list[tuple[str, str, str | None]] = []  # (label, path template, device kind or None); filled by displays


async def demo_links(pool: asyncpg.Pool, base: str, center: str, admin_token: str) -> list[str]:
    lines = [
        "API",
        f"  health            {base}/healthz   {base}/readyz",
        f"  OpenAPI           {base}/openapi.json",
        f"  centers           {base}/api/v1/centers",
        f"  center            {base}/api/v1/centers/{center}",
        f"  matters           {base}/api/v1/matters?center={center}",
        f"  live queue        {base}/api/v1/centers/{center}/queue",
        f"  persister lag     {base}/api/v1/ops/persister",
        f"  admin token       Authorization: Bearer {admin_token}",
    ]
    if PAGES:
        lines.append(f"Pages of {center}")
        for label, path, kind in PAGES:
            url = base + path.format(center=center, window="w1")
            if kind:
                token = await create_token(pool, "device", center, "w1" if kind in ("screen", "tablet") else None,
                                           None, kind, f"demo {label}")
                url += ("&" if "?" in url else "?") + f"token={token}"
            lines.append(f"  {label:<18}{url}")
    return lines
