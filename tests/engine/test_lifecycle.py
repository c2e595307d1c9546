"""The ticket life cycle through the engine, on real Redis, with an injected clock."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.domain.policy import simulate
from queue_server.engine.queue_engine import EngineError
from tests.support import engine_for

C = "jingansi"
MORNING = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai


@pytest.fixture
async def engine(settings: Settings):
    async with engine_for(settings, FixedClock(MORNING)) as e:
        yield e


async def open_window(engine, window: str = "w1", staff: str = "s01") -> None:
    await engine.set_window(C, window, "open", {"id": f"{C}-{staff}", "name": "王丽华", "no": "JA01001"})


async def test_issue_numbers_per_prefix_and_position(engine) -> None:
    a1 = await engine.issue(C, "hrss-001", "kiosk")
    a2 = await engine.issue(C, "hrss-002", "kiosk")
    b1 = await engine.issue(C, "hrss-004", "kiosk")  # a quick matter: queue B
    assert [a1.ticket["number"], a2.ticket["number"], b1.ticket["number"]] == ["A001", "A002", "B001"]
    assert a1.ticket["id"] == f"{C}-20261130-A001"
    assert (a1.ahead, a2.ahead) == (0, 1)
    assert a2.estimated_wait_s > 0


async def test_idempotency_key_gives_the_first_ticket_again(engine) -> None:
    first = await engine.issue(C, "hrss-001", "kiosk", idempotency_key="kiosk-1:abc")
    again = await engine.issue(C, "hrss-001", "kiosk", idempotency_key="kiosk-1:abc")
    other = await engine.issue(C, "hrss-001", "kiosk", idempotency_key="kiosk-1:abd")
    assert again.duplicate and again.ticket["id"] == first.ticket["id"]
    assert other.ticket["number"] == "A002"
    assert await engine.redis.xlen(engine.keys.events(C)) == 2


async def test_numbering_resets_at_shanghai_midnight_not_utc(settings: Settings) -> None:
    clock = FixedClock(datetime(2026, 11, 30, 15, 59, tzinfo=timezone.utc))  # 23:59 Shanghai
    async with engine_for(settings, clock) as engine:
        before = await engine.issue(C, "hrss-001", "kiosk")
        await engine.issue(C, "hrss-001", "kiosk")
        clock.set(datetime(2026, 11, 30, 16, 0, 1, tzinfo=timezone.utc))  # 00:00:01 Shanghai, still the 30th in UTC
        after = await engine.issue(C, "hrss-001", "kiosk")
        assert before.ticket["id"] == f"{C}-20261130-A001"
        assert after.ticket["number"] == "A001" and after.ticket["id"] == f"{C}-20261201-A001"
        clock.set(datetime(2026, 11, 30, 23, 59, tzinfo=timezone.utc))  # UTC midnight is no reset
        assert (await engine.issue(C, "hrss-001", "kiosk")).ticket["number"] == "A002"


async def test_full_cycle_and_illegal_transitions(engine) -> None:
    t = (await engine.issue(C, "hrss-001", "kiosk", phone="13812345678")).ticket
    with pytest.raises(EngineError) as exc:
        await engine.call_next(C, "w1")
    assert exc.value.code == "window_not_open"
    await open_window(engine)
    called = await engine.call_next(C, "w1")
    assert called["ticket"]["id"] == t["id"] and called["window"]["staff_name"] == "王丽华"
    with pytest.raises(EngineError) as exc:
        await engine.call_next(C, "w1")
    assert exc.value.code == "window_busy"
    assert exc.value.fields == {"current_ticket": t["id"], "current_status": "called"}
    assert exc.value.message == f"window w1 still has ticket {t['id']} called"
    with pytest.raises(EngineError) as exc:
        await engine.act(t["id"], "finish")
    assert exc.value.code == "illegal_transition"
    with pytest.raises(EngineError) as exc:
        await engine.act(t["id"], "start", acting_window="w2")
    assert exc.value.code == "other_window"
    engine.clock.advance(300)
    await engine.act(t["id"], "start", acting_window="w1")
    engine.clock.advance(420)
    done = await engine.act(t["id"], "finish", acting_window="w1")
    assert done["ticket"]["status"] == "finished" and done["ticket"]["window"] == "w1"
    assert float(await engine.redis.hget(engine.keys.stats(C), "h:comprehensive")) == pytest.approx(420.0)
    assert await engine.call_next(C, "w1") is None
    with pytest.raises(EngineError):
        await engine.act(t["id"], "cancel")
    assert not await engine.redis.sismember(engine.keys.live(C), t["id"])
    types = [f[b"type"].decode() for _, f in await engine.redis.xrange(engine.keys.events(C))]
    assert types == ["ticket.issued", "window.opened", "ticket.called", "ticket.started", "ticket.finished"]


async def test_priority_ratio_matches_the_policy_model(engine) -> None:
    await open_window(engine)
    for _ in range(6):
        await engine.issue(C, "hrss-001", "kiosk", priority="normal")
    for _ in range(3):
        await engine.issue(C, "hrss-001", "kiosk", priority="priority")
    got = ""
    while (called := await engine.call_next(C, "w1")) is not None:
        got += "P" if called["ticket"]["priority"] == "priority" else "N"
        await engine.act(called["ticket"]["id"], "no-show")
    assert got == simulate(engine.cycle, 3, 6) == "PNNPNNPNN"


async def test_appointments_wait_for_their_slot_and_windows_serve_only_their_queues(engine) -> None:
    await open_window(engine, "w8")  # appointments + comprehensive
    await open_window(engine, "r1", "s02")  # remote only
    slot_later = int(MORNING.timestamp() * 1000) + 30 * 60_000
    walk_in = (await engine.issue(C, "hrss-001", "kiosk")).ticket
    appt = (await engine.issue(C, "hrss-001", "appointment", priority="appointment", appointment_at_ms=slot_later)).ticket
    assert appt["queue"] == "appointment" and appt["number"].startswith("V")
    assert await engine.call_next(C, "r1") is None  # a remote window never takes onsite tickets
    first = await engine.call_next(C, "w8")
    assert first["ticket"]["id"] == walk_in["id"]  # the slot has not begun
    await engine.act(walk_in["id"], "no-show")
    assert await engine.call_next(C, "w8") is None
    engine.clock.advance(31 * 60)
    later_walk_in = (await engine.issue(C, "hrss-001", "kiosk")).ticket
    assert (await engine.call_next(C, "w8"))["ticket"]["id"] == appt["id"]  # slot begun: before walk-ins
    await engine.act(appt["id"], "no-show")
    assert (await engine.call_next(C, "w8"))["ticket"]["id"] == later_walk_in["id"]


async def test_transfer_keeps_the_original_time(engine) -> None:
    await open_window(engine, "w1")
    await open_window(engine, "w7", "s03")
    old = (await engine.issue(C, "hrss-001", "kiosk")).ticket
    engine.clock.advance(60)
    newer_quick = (await engine.issue(C, "hrss-004", "kiosk")).ticket
    await engine.call_next(C, "w1")  # takes `old` (oldest in comprehensive+quick)
    moved = await engine.transfer(old["id"], to_queue="quick", acting_window="w1")
    assert moved["ticket"]["status"] == "waiting" and moved["ticket"]["queue"] == "quick"
    # w7 serves quick: the transferred ticket, issued earlier, goes before the newer quick ticket
    assert (await engine.call_next(C, "w7"))["ticket"]["id"] == old["id"]
    await engine.transfer(old["id"], to_window="w1", acting_window="w7", reason="needs the housing specialist")
    assert (await engine.call_next(C, "w1"))["ticket"]["id"] == old["id"]  # a window's own line comes first
    await engine.act(old["id"], "no-show")
    assert (await engine.call_next(C, "w1"))["ticket"]["id"] == newer_quick["id"]
    with pytest.raises(EngineError) as exc:
        await engine.transfer(newer_quick["id"], to_queue="nope")
    assert exc.value.code == "unknown_queue"


async def test_recall_limit_turns_into_no_show(engine) -> None:
    await open_window(engine)
    t = (await engine.issue(C, "hrss-001", "kiosk")).ticket
    await engine.call_next(C, "w1")
    for n in range(1, engine.settings.recall_limit + 1):
        r = await engine.recall(t["id"], "w1")
        assert r["type"] == "ticket.recalled" and r["ticket"]["recalls"] == n
    last = await engine.recall(t["id"], "w1")
    assert last["type"] == "ticket.no_show" and last["ticket"]["status"] == "no_show"
    assert await engine.redis.hget(engine.keys.window(C, "w1"), "current") == b""


async def test_pause_resume_returns_to_the_same_window_first(engine) -> None:
    await open_window(engine)
    t = (await engine.issue(C, "hrss-001", "kiosk")).ticket
    other = (await engine.issue(C, "hrss-001", "kiosk")).ticket
    await engine.call_next(C, "w1")
    await engine.act(t["id"], "start")
    paused = await engine.act(t["id"], "pause", extra={"reason": "fetching the household register"})
    assert paused["ticket"]["status"] == "paused"
    assert (await engine.call_next(C, "w1"))["ticket"]["id"] == other["id"]  # window free meanwhile
    await engine.act(other["id"], "no-show")
    await engine.act(t["id"], "resume")
    assert (await engine.call_next(C, "w1"))["ticket"]["id"] == t["id"]


async def test_call_a_named_ticket_out_of_order(engine) -> None:
    await open_window(engine)
    first = (await engine.issue(C, "hrss-001", "kiosk")).ticket
    third = [(await engine.issue(C, "hrss-001", "kiosk")).ticket for _ in range(2)][-1]
    called = await engine.call_next(C, "w1", ticket_id=third["id"], reason="elderly resident, ticket misread")
    assert called["ticket"]["id"] == third["id"] and called["reason"]
    assert called["ticket"]["called_out_of_order"] == "elderly resident, ticket misread"
    await engine.act(third["id"], "no-show")
    assert (await engine.call_next(C, "w1"))["ticket"]["id"] == first["id"]
    with pytest.raises(EngineError) as exc:
        await engine.call_next(C, "w1", ticket_id=first["id"], reason="again")
    assert exc.value.code == "window_busy"


async def test_closing_a_busy_window_is_refused_and_cancel_leaves_the_line(engine) -> None:
    await open_window(engine)
    t = (await engine.issue(C, "hrss-001", "kiosk")).ticket
    gone = (await engine.issue(C, "hrss-001", "kiosk")).ticket
    await engine.act(gone["id"], "cancel")
    await engine.call_next(C, "w1")
    with pytest.raises(EngineError) as exc:
        await engine.set_window(C, "w1", "closed")
    assert exc.value.code == "window_busy" and exc.value.fields == {"current_ticket": t["id"], "current_status": "called"}
    await engine.act(t["id"], "no-show")
    closed = await engine.set_window(C, "w1", "closed")
    assert closed["window"]["state"] == "closed" and "staff_name" not in closed["window"]
    assert await engine.redis.scard(engine.keys.open_windows(C, "comprehensive")) == 0


async def test_service_point_tickets_go_to_the_remote_windows(engine) -> None:
    await open_window(engine, "w1")
    await open_window(engine, "r1", "s02")
    t = (await engine.issue(C, "hrss-001", "service_point", service_point="sp1")).ticket
    assert t["queue"] == "remote" and t["number"] == "R001" and t["service_point"] == "sp1"
    assert await engine.call_next(C, "w1") is None
    assert (await engine.call_next(C, "r1"))["ticket"]["id"] == t["id"]
    with pytest.raises(EngineError) as exc:
        await engine.issue(C, "hrss-001", "service_point", service_point="sp99")
    assert exc.value.code == "unknown_service_point"
