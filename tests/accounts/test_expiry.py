"""Every token expires: its kind's lifetime from the settings, refused to the second by the cache that
already holds it (no look-up needed), and tokens made before expiry existed got one too."""
from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from queue_server.config import Settings
from queue_server.record.people import create_token, expired_since, token_hash
from tests.support import running_app

C = "jingansi"


async def test_a_token_stops_working_when_it_expires_even_while_cached(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        token = await create_token(app.state.pool, "manager", C, lifetime_s=2)
        headers = {"Authorization": f"Bearer {token}"}
        who = await app.state.tokens.resolve(token)
        assert who is not None and who.expires_at is not None
        assert (await client.get(f"/api/v1/centers/{C}/devices", headers=headers)).status_code == 200
        while time.time() <= who.expires_at:
            await asyncio.sleep(0.1)
        r = await client.get(f"/api/v1/centers/{C}/devices", headers=headers)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", r.text


async def test_lifetimes_are_per_kind_and_configurable(settings: Settings) -> None:
    lives = replace(settings, login_token_ttl_s=60, person_token_ttl_s=3600, device_token_ttl_s=86400)
    assert (lives.token_ttl_s("staff", login=True), lives.token_ttl_s("manager"), lives.token_ttl_s("device")) == \
        (60, 3600, 86400)
    defaults = Settings()
    assert defaults.token_ttl_s("device") > defaults.token_ttl_s("manager") > defaults.token_ttl_s("staff", login=True)
    async with running_app(settings) as (app, _):
        pool = app.state.pool
        await create_token(pool, "device", C, device_kind="display", label="long")
        await create_token(pool, "staff", C, "w1", label="short", lifetime_s=60)
        lives_s = dict(await pool.fetch("SELECT label, extract(epoch FROM expires_at - created_at)::int FROM tokens"
                                        " WHERE label IN ('long', 'short')"))
        assert lives_s == {"long": defaults.device_token_ttl_s, "short": 60}
        assert await pool.fetchval("SELECT count(*) FROM tokens WHERE expires_at IS NULL") == 0


async def test_the_look_for_expired_tokens_misses_none_expiring_between_two_looks(settings: Settings) -> None:
    """The sweep that closes the sockets of expired tokens looks every few seconds for those expired
    since its last look. Each look's answer and the clock the next one starts from are one statement's:
    a token expiring just after a look's clock — before the look has even answered — is in the next
    look. (The sweep took that clock from a second statement when the first found nothing, and a token
    expiring between the two was never closed: a socket held open past its token's end.)"""
    async with running_app(settings) as (app, _):
        pool = app.state.pool
        token = await create_token(pool, "device", C, device_kind="display", label="expiring")
        _, since = await expired_since(pool, await pool.fetchval("SELECT now() - interval '1 minute'"))
        await pool.execute("UPDATE tokens SET expires_at = $1::timestamptz + interval '1 millisecond'"
                           " WHERE label = 'expiring'", since)   # already past by now: between the two looks
        hashes, after = await expired_since(pool, since)
        assert hashes == [token_hash(token)] and after > since
        assert (await expired_since(pool, after))[0] == []   # and in that look only
