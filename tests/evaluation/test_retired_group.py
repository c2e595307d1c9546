"""The served tickets follow the record's read; earlier versions read the streams in an
``evaluation`` group of their own. An upgraded start takes over what that group left — entries a
dead consumer held and entries nobody had read — records them as served with their prompts, and
removes the group, which would otherwise hold back the trim and lose every event to it."""
from __future__ import annotations

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.record.persister import lag
from tests.evaluation.conftest import C, PHONE, desk_for, eval_settings, eventually

OLD = "evaluation"


async def test_a_start_takes_over_the_retired_groups_backlog_and_removes_it(settings: Settings,
                                                                             clock: FixedClock) -> None:
    eval_env = eval_settings(settings)
    async with desk_for(eval_env, clock) as desk:
        redis, stream = desk.app.state.redis, desk.app.state.keys.events(C)
        await redis.xgroup_create(stream, OLD, id="0", mkstream=True)
        served = [(await desk.serve("w1", phone=PHONE if i % 2 else None))["id"] for i in range(4)]
        await eventually(lambda: desk.pool.fetchval("SELECT count(*) = 4 FROM eval_served"), what="served recorded")
        # As an older version left it: the record caught up (its group acknowledged every event), the
        # evaluation's group behind, and nothing of the evaluation's written yet.
        held = await redis.xreadgroup(OLD, "old-host-1", {stream: ">"}, count=9)   # read, never acknowledged
        assert len(held[0][1]) == 9 < await redis.xlen(stream)                      # the rest never read
        await desk.pool.execute("DELETE FROM sms_messages")
        await desk.pool.execute("DELETE FROM eval_served")

    async with desk_for(eval_env, clock) as desk:   # the upgraded start: only the retired group's backlog holds them
        assert (await _record_lag(desk))["undelivered"] == 0
        await eventually(lambda: _gone(desk), what="the retired group removed")
        rows = await desk.pool.fetch("SELECT ticket_id, window_code, staff_id FROM eval_served ORDER BY ticket_id")
        assert [(r["ticket_id"], r["window_code"], r["staff_id"]) for r in rows] == \
            [(t, "w1", f"{C}-s01") for t in sorted(served)]
        prompts = await desk.pool.fetch("SELECT ticket_id FROM sms_messages WHERE kind = 'prompt' ORDER BY ticket_id")
        assert [r["ticket_id"] for r in prompts] == sorted(served[1::2])   # once each, for those with a phone
        finished = desk.app.state.record_followers[0].__self__
        assert await finished.retire_group(redis, desk.app.state.keys, [C]) == 0   # nothing left, nothing again
        assert desk.app.state.losses.counts == {}


async def _record_lag(desk) -> dict:  # type: ignore[no-untyped-def]
    return (await lag(desk.app.state.redis, desk.app.state.keys, [C]))[C]


async def _gone(desk) -> bool:  # type: ignore[no-untyped-def]
    groups = await desk.app.state.redis.xinfo_groups(desk.app.state.keys.events(C))
    return OLD.encode() not in {g["name"] for g in groups}
