"""A calendar change reaches every running instance without a restart: hours set through one
instance's API, and the operator's file stored by the CLI, close the kiosk on another within 5 s;
and a change answers with itself while other instances' changes keep this one reloading."""
from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.calendar.test_issue import C, at, kiosk
from tests.support import AUTH, ROOT, running_app


async def opening_on(client: httpx.AsyncClient, want: str, value: object) -> float:
    """Seconds until the instance's calendar shows ``want == value`` (at most 5 s, or the test fails)."""
    started = time.monotonic()
    while True:
        shown = (await client.get(f"/api/v1/centers/{C}/opening")).json()
        if shown[want] == value:
            return time.monotonic() - started
        assert time.monotonic() - started < 5, f"the other instance still shows {want}={shown[want]!r}"
        await asyncio.sleep(0.05)


async def test_a_change_on_one_instance_closes_the_kiosk_on_another(settings: Settings, tmp_path: Path) -> None:
    clock = FixedClock(at(12, 1, 10))
    async with running_app(settings, clock) as (_a, one), running_app(settings, clock) as (_b, two):
        assert (await kiosk(two)).status_code == 201                   # open around the clock (the template)
        r = await one.put(f"/api/v1/centers/{C}/hours", headers=AUTH,
                          json={"weekdays": ["13:00", "16:30"], "weekends_holidays": ["08:30", "11:30"]})
        assert r.status_code == 200 and not r.json()["open"]
        print(f"hours set on one instance reached the other in {await opening_on(two, 'open', False):.3f} s")
        refused = await kiosk(two)
        assert (refused.status_code, refused.json()["next_opening_at"]) == (409, "2026-12-01T13:00:00+08:00")

        path = tmp_path / "calendar.toml"
        path.write_text(f'[[closed]]\ncenter = "{C}"\nfrom = "2026-12-01"\nreason = "停电 power cut"\n', encoding="utf-8")
        env = {**os.environ, "REDIS_URL": settings.redis_url or "", "DATABASE_URL": settings.database_url or "",
               "QUEUE_KEY_PREFIX": settings.key_prefix}
        cli = await asyncio.create_subprocess_exec(sys.executable, "-m", "queue_server", "calendar", str(path), env=env,
                                                   cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await cli.communicate()
        assert cli.returncode == 0, err.decode()
        for client in (one, two):
            await opening_on(client, "reason", "停电 power cut")
        assert (await kiosk(one)).json()["next_opening_at"] == "2026-12-02T13:00:00+08:00"


async def test_a_change_answers_with_itself_while_other_changes_reload(settings: Settings) -> None:
    """Another instance's changes set off reloads here; a load begun before this change was stored
    must not land after this request's own and answer (or keep) the hours it replaced."""
    clock = FixedClock(at(12, 1, 10))
    async with running_app(settings, clock) as (app, client):
        others = asyncio.Event()

        async def another_instance_changing() -> None:
            while not others.is_set():
                await app.state.redis.publish(app.state.keys.calendar_changes(), b"hours")
                await asyncio.sleep(0.002)

        publishing = asyncio.create_task(another_instance_changing())
        try:
            for turn in range(40):
                always = turn % 2 == 0
                r = await client.put(f"/api/v1/centers/{C}/points/sp1/hours", headers=AUTH,
                                     json={"always_open": True} if always else {"weekdays": ["08:30", "12:00"]})
                assert r.status_code == 200 and r.json()["hours"].get("always_open", False) is always, (turn, r.json()["hours"])
        finally:
            others.set()
            await publishing
