"""PostgreSQL stopped while residents wait: a code asked for meanwhile is a 503 with Retry-After and
sends nothing; the queue goes on in Redis, and the "turn is near" the consumer could not queue while
the record was away goes out once it is back — once, as does the call after it."""
from __future__ import annotations

import asyncio

from evaluation.sms.standin import TwilioStandin
from queue_server.clock import FixedClock
from tests.evaluation.conftest import C, PHONE, PHONE_E164, clock, desk_for, eval_settings, eventually, standin  # noqa: F401
from tests.faults.services import OwnPostgres
from tests.residents.conftest import Resident
from tests.residents.test_turn_near import ahead, issue, serve_next
from tests.support import AUTH, Services

OTHER = "13911112222"


async def test_notices_wait_for_the_record_and_go_out_once(record: tuple[OwnPostgres, Services], clock: FixedClock,  # noqa: F811
                                                           standin: TwilioStandin) -> None:  # noqa: F811
    pg, services = record
    settings = eval_settings(services.settings(await services.fresh_database()), standin,
                             QUEUE_RESIDENTS_CONSUMER_BLOCK_MS="50")
    async with desk_for(settings, clock) as desk:
        await desk.open("w1", f"{C}-s01")
        for _ in range(4):
            await issue(desk)
        t = await Resident(desk, standin, PHONE).ticket()
        assert t["ahead"] == 4
        await asyncio.to_thread(pg.stop)
        try:
            r = await Resident(desk, standin, OTHER).ask_code()
            assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1, r.text
            assert r.headers["content-type"] == "application/problem+json"
            await serve_next(desk)                                   # the queue goes on: 3 ahead now
            assert await ahead(desk, t["id"]) == 3
            await asyncio.sleep(1.0)                                 # the consumer fails meanwhile, and is restarted
            assert len(standin.to(PHONE_E164)) == 1                  # the code only
        finally:
            await asyncio.to_thread(pg.restart)

        async def near_sent() -> bool:
            return len(standin.to(PHONE_E164)) >= 2
        await eventually(near_sent, timeout=40, what="the near SMS after the record came back")
        called = await desk.client.post(f"/api/v1/centers/{C}/windows/w1/call-next",
                                        json={"ticket": t["id"], "reason": "test"}, headers=AUTH)
        assert called.status_code == 200, called.text

        async def called_sent() -> bool:
            return len(standin.to(PHONE_E164)) >= 3
        await eventually(called_sent, timeout=20, what="the called SMS")
        await asyncio.sleep(1.0)
        bodies = [m.body for m in standin.to(PHONE_E164)]
        assert ["验证码" in bodies[0], "快到您了" in bodies[1], "办理" in bodies[2]] == [True] * 3 and len(bodies) == 3
        assert standin.to("+86" + OTHER) == []

