"""Residents' test plumbing: the evaluation's app with the Twilio stand-in, and a resident who asks
for a code, reads it from what the stand-in received, and takes a remote ticket with it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from evaluation.sms.standin import TwilioStandin
from evaluation.sms.texts import e164
from tests.evaluation.conftest import C, Desk, clock, eventually, standin  # noqa: F401 (fixtures)

CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def codes_to(standin: TwilioStandin, phone: str) -> list[str]:
    """The codes the stand-in received for ``phone``, oldest first."""
    return [m.group(1) for msg in standin.to(e164(phone)) if "验证码" in msg.body and (m := CODE.search(msg.body))]


@dataclass
class Resident:
    desk: Desk
    standin: TwilioStandin
    phone: str
    address: str = "203.0.113.7"

    @property
    def client(self) -> httpx.AsyncClient:
        return self.desk.client

    async def ask_code(self, center: str = C) -> httpx.Response:
        return await self.client.post("/api/v1/residents/codes", json={"center": center, "phone": self.phone})

    async def code(self, center: str = C) -> str:
        """A new code, as the resident reads it from the SMS."""
        before = len(codes_to(self.standin, self.phone))
        r = await self.ask_code(center)
        assert r.status_code == 202, r.text

        async def arrived() -> bool:
            return len(codes_to(self.standin, self.phone)) > before
        await eventually(arrived, what="the code SMS")
        return codes_to(self.standin, self.phone)[-1]

    async def take(self, code: str, matter: str = "hrss-001", center: str = C, phone: str | None = None) -> httpx.Response:
        return await self.client.post("/api/v1/residents/tickets",
                                      json={"center": center, "matter": matter, "phone": phone or self.phone, "code": code})

    async def ticket(self, matter: str = "hrss-001", center: str = C) -> dict[str, Any]:
        r = await self.take(await self.code(center), matter, center)
        assert r.status_code == 201, r.text
        return r.json()
