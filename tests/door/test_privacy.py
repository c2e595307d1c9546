"""A resident's phone and ID number in door-to-door cases: sealed at rest (no table holds the digits),
shown masked, and forgotten once a finished case is past the phone retention period (injected clock);
an open case keeps them, for the SMS still to come."""
from __future__ import annotations

import asyncpg

from door.component import sweep
from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.door.conftest import MONDAY, Cases, phone
from tests.support import AUTH, running_app

ID_NUMBER = "310106194501015678"


async def test_personal_data_is_sealed_masked_and_forgotten_after_retention(settings: Settings) -> None:
    clock = FixedClock(MONDAY)
    async with running_app(settings, clock) as (app, client):
        cases = Cases(app, client, clock)
        refused_phone, open_phone = phone(), phone()
        done = await cases.to_tracking()
        await cases.step(done, "approvals/mi-004", {"state": "approved"})
        await cases.step(done, "close", {})
        refused = (await cases.discover(refused_phone, ["hrss-001"], id_number=ID_NUMBER))["case_id"]
        await cases.step(refused, "review", {"decision": "refuse", "reason": "不在清单"})
        kept = (await cases.discover(open_phone, ["mi-004"], id_number=ID_NUMBER))["case_id"]

        conn = await asyncpg.connect(settings.database_url)
        try:
            for table in ("door_cases", "door_case_matters", "door_discoveries", "door_transitions", "door_visits"):
                text = "\n".join(str(dict(r)) for r in await conn.fetch(f"SELECT * FROM {table}"))
                for digits in (refused_phone, open_phone, ID_NUMBER, refused_phone[-8:]):
                    assert digits not in text, (table, digits)
            shown = (await client.get(f"/api/v1/door/cases/{kept}", headers=AUTH)).json()
            assert shown["phone_masked"] == f"{open_phone[:3]}****{open_phone[-4:]}"
            assert shown["id_number_masked"] == "310***********5678"

            clock.advance(44 * 86_400)
            await sweep(app)
            assert await conn.fetchval("SELECT count(*) FROM door_cases WHERE id = ANY($1) AND phone_sealed IS NULL",
                                       [done, refused, kept]) == 0
            clock.advance(2 * 86_400)                          # past QUEUE_PHONE_RETENTION_DAYS (45)
            await sweep(app)
            rows = {r["id"]: r for r in await conn.fetch(
                "SELECT id, phone_sealed, id_number_sealed, phone_masked FROM door_cases WHERE id = ANY($1)",
                [done, refused, kept])}
        finally:
            await conn.close()
        assert rows[done]["phone_sealed"] is None and rows[refused]["phone_sealed"] is None
        assert rows[refused]["id_number_sealed"] is None
        assert rows[kept]["phone_sealed"] is not None and rows[kept]["id_number_sealed"] is not None
        assert rows[done]["phone_masked"].startswith("137") and "****" in rows[done]["phone_masked"]   # kept for the history
        assert (await client.get(f"/api/v1/door/cases/{refused}", headers=AUTH)).status_code == 200
