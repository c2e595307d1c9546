"""Outsiders are rate-limited by who they are, not by how they spell it."""
from __future__ import annotations

from queue_server.record.people import create_token
from tests.support import running_app

C = "jingansi"
T = f"/api/v1/centers/{C}/tickets"
ISSUE = {"matter": "hrss-001"}


async def test_a_kiosk_is_one_bucket_however_its_token_is_spelled(services, database_url) -> None:
    """The limiter was keyed on the raw Authorization header: each spelling of one token had a bucket."""
    settings = services.settings(database_url, rate_limit_per_minute=60)   # a burst of 15
    async with running_app(settings) as (app, client):
        token = await create_token(app.state.pool, "device", C, device_kind="kiosk")
        spellings = [f"{scheme} {pad}{token}" for scheme in ("Bearer", "bearer", "BEARER", "bEaReR")
                     for pad in ("", " ", "  ", "\t")]
        codes = [(await client.post(T, headers={"Authorization": a}, json=ISSUE)).status_code for a in spellings]
        codes.append((await client.post(f"{T}?token={token}", json=ISSUE)).status_code)
        assert codes[:15] == [201] * 15 and set(codes[15:]) == {429}, codes


async def test_kiosks_sending_their_token_in_the_query_have_a_bucket_each(services, database_url) -> None:
    """With no Authorization header every ``?token=`` device shared the bucket ``dev:None``."""
    settings = services.settings(database_url, rate_limit_per_minute=60)
    async with running_app(settings) as (app, client):
        first, second = [await create_token(app.state.pool, "device", C, device_kind="kiosk") for _ in range(2)]
        codes = [(await client.post(f"{T}?token={first}", json=ISSUE)).status_code for _ in range(16)]
        assert codes[:15] == [201] * 15 and codes[15] == 429
        assert (await client.post(f"{T}?token={second}", json=ISSUE)).status_code == 201
