"""A remote acceptance in progress for the materials tests: remote window r1 open, a ticket for
tu-001 (items: 1 ID card, 2 union card, 3 invoices — the invoices' originals travel) taken by the
assistant of sp1 and called to r1."""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson

from queue_server.config import Settings
from tests.support import AUTH

C = "jingansi"
SP1, SP2 = f"{C}-sp1", f"{C}-sp2"   # demo: r1 serves both all day
MATTER = "tu-001"


def with_store(settings: Settings, folder: Path, **env: str) -> Settings:
    return replace(settings, extra={**settings.extra, "QUEUE_MATERIALS_DIR": str(folder), **env})


def png(seed: int = 0, size: int = 0) -> bytes:
    """A real PNG (1x1 pixel of colour ``seed``), padded by a text chunk to about ``size`` bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixel = zlib.compress(bytes([0, seed % 256, (seed >> 8) % 256, 7]))
    pad = chunk(b"tEXt", b"pad\0" + b"x" * max(0, size - 80)) if size else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + pad + chunk(b"IDAT", pixel) + chunk(b"IEND", b"")


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b" " * 300
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 400


@dataclass
class Acceptance:
    ticket: dict[str, Any]
    assistant: dict[str, str]
    clerk: dict[str, str]


async def token(client: httpx.AsyncClient, **body: Any) -> dict[str, str]:
    r = await client.post("/api/v1/tokens", headers=AUTH, json={"center": C, **body})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def called_ticket(client: httpx.AsyncClient, matter: str = MATTER, point: str = SP1) -> Acceptance:
    r = await client.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": f"{C}-s01"}, headers=AUTH)
    assert r.status_code in (200, 409), r.text
    assistant = await token(client, role="assistant", point=point.split("-")[1], label=f"{point} 帮办员")
    clerk = await token(client, role="staff", window="r1", staff_id=f"{C}-s01")
    r = await client.post(f"/api/v1/points/{point}/tickets", json={"matter": matter}, headers=assistant)
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/v1/centers/{C}/windows/r1/call-next", json={}, headers=clerk)
    assert r.status_code == 200, r.text
    return Acceptance(r.json()["ticket"], assistant, clerk)


async def upload(client: httpx.AsyncClient, a: Acceptance, item: int, data: bytes, media_type: str = "image/png",
                 point: str = SP1, headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post(f"/api/v1/points/{point}/tickets/{a.ticket['id']}/materials/{item}", content=data,
                             headers={**(headers or a.assistant), "Content-Type": media_type})


async def events(app: Any, prefix: str) -> list[dict[str, Any]]:
    entries = await app.state.redis.xrange(app.state.keys.events(C))
    return [e for e in (orjson.loads(f[b"data"]) for _, f in entries) if e["type"].startswith(prefix)]


def stored_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]

