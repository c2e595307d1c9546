"""Door-to-door test plumbing: the app on a fixed Monday-morning clock, tokens, and the steps that
take a case through its stages over HTTP."""
from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from queue_server.clock import FixedClock
from queue_server.record.people import create_token
from tests.support import AUTH

C = "jingansi"
MONDAY = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)   # Monday 09:00 in Shanghai
# A 1x1 PNG: what a signature canvas sends, in miniature.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
SIGNATURE = "data:image/png;base64," + base64.b64encode(PNG).decode()


def phone() -> str:
    """A fresh resident: demo cases use 139000010xx."""
    return f"137{secrets.randbelow(10**8):08d}"


def local_today(clock: FixedClock) -> date:
    return datetime.fromtimestamp(clock.now_ms() / 1000, ZoneInfo("Asia/Shanghai")).date()


@dataclass
class Cases:
    """Takes cases through their stages over HTTP, asserting each step was taken."""
    app: Any
    client: httpx.AsyncClient
    clock: FixedClock

    async def token(self, role: str, staff: str | None = None, center: str = C) -> dict[str, str]:
        return {"Authorization": f"Bearer {await create_token(self.app.state.pool, role, center, None, staff)}"}

    async def discover(self, resident_phone: str, matters: list[str], status: int = 201, **more: Any) -> dict[str, Any]:
        body = {"resident_name": "孙阿婆", "phone": resident_phone, "address": "静安区南京西路1号", "matters": matters,
                "reason": "elderly", "source": "committee", **more}
        r = await self.client.post(f"/api/v1/centers/{C}/door/cases", json=body, headers=AUTH)
        assert r.status_code == status, r.text
        return r.json()

    async def step(self, case_id: int, action: str, body: dict[str, Any] | None = None, status: int = 200,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        r = await self.client.post(f"/api/v1/door/cases/{case_id}/{action}", json=body or {}, headers=headers or AUTH)
        assert r.status_code == status, r.text
        return r

    async def book(self, case_id: int, visitor: str = f"{C}-s01", days: int = 1, slot: str = "am",
                   status: int = 200) -> httpx.Response:
        day = local_today(self.clock) + timedelta(days=days)
        return await self.step(case_id, "schedule", {"visitor": visitor, "date": day.isoformat(), "slot": slot}, status)

    def record(self, accepted: bool = True, key: str | None = None, **more: Any) -> dict[str, Any]:
        return {"record_key": key or secrets.token_hex(16), "arrived_at": self.clock.now_ms(),
                "materials": [{"name": "居民身份证", "collected": True}, {"name": "社保卡", "collected": accepted}],
                "accepted": accepted, "reason": "" if accepted else "材料不全 documents missing",
                "signature": SIGNATURE, **more}

    async def to_tracking(self, matters: list[str] | None = None) -> int:
        case_id = (await self.discover(phone(), matters or ["mi-004"]))["case_id"]
        await self.step(case_id, "review", {"decision": "approve"})
        await self.book(case_id)
        await self.step(case_id, "visit", self.record(), 201)
        return case_id
