"""The aggregator's rules on hand-made events (no services): an event seen twice counts once, a ticket
called again replaces its wait, default and follow-up ratings are not residents' first ratings,
bad-review cases open, go overdue and close, and a new local day starts the day's counters again."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from queue_server.domain.catalog import Center, Queue, Window
from queue_server.ops.live import LiveFigures

TZ = ZoneInfo("Asia/Shanghai")
NINE = int(datetime(2026, 3, 10, 9, 0, tzinfo=TZ).timestamp() * 1000)
MIN = 60_000
CENTER = Center("hall", "测试中心", "Test hall", "", "Asia/Shanghai", {},
                queues={"comprehensive": Queue("comprehensive", "A", "综合", "Comprehensive", frozenset(), frozenset())},
                windows={"w1": Window("w1", "1号窗口", "Window 1", "onsite", ("comprehensive",))})


def ticket(status: str, **times: int) -> dict:
    return {"id": "hall-20260310-A001", "center": "hall", "day": "20260310", "queue": "comprehensive", "number": "A001",
            "status": status, "issued_at": NINE, **times}


def event(kind: str, at: int, **body: object) -> dict:
    return {"type": kind, "at": at, "center": "hall", **body}


def test_rules() -> None:
    live = LiveFigures({"hall": CENTER}, "Asia/Shanghai", 900, NINE)
    issued = event("ticket.issued", NINE, ticket=ticket("waiting"))
    assert live.apply("hall", "1-0", issued)
    assert not live.apply("hall", "1-0", issued) and not live.apply("hall", "0-5", issued)
    live.apply("hall", "2-0", event("ticket.called", NINE + 20 * MIN, ticket=ticket("called", called_at=NINE + 20 * MIN),
                                    window={"id": "w1", "state": "open", "current": "hall-20260310-A001"}))
    f = live.center("hall", NINE + 21 * MIN)
    assert (f["issued"], f["called"], f["wait_avg_s"], f["service_level"]) == (1, 1, 1200.0, 0.0)
    assert f["window_list"][0]["current_number"] == "A001" and f["windows"]["open"] == 1
    live.apply("hall", "3-0", event("ticket.transferred", NINE + 22 * MIN, ticket=ticket("waiting", called_at=NINE + 20 * MIN)))
    assert live.center("hall", NINE + 22 * MIN)["waiting"]["comprehensive"] == 1
    live.apply("hall", "4-0", event("ticket.called", NINE + 30 * MIN, ticket=ticket("called", called_at=NINE + 30 * MIN)))
    f = live.center("hall", NINE + 31 * MIN)
    assert (f["called"], f["wait_avg_s"], f["called_1h"], f["transfers"], f["waiting_total"]) == (1, 1800.0, 1, 1, 0)
    assert f["wait_histogram"]["counts"] == [0, 0, 0, 0, 0, 1, 0, 0]

    review = {"level": 1, "round": 1, "is_default": False}
    live.apply("hall", "5-0", event("review.recorded", NINE + 40 * MIN, review=review))
    live.apply("hall", "6-0", event("review.recorded", NINE + 40 * MIN, review={**review, "is_default": True, "level": 5}))
    live.apply("hall", "7-0", event("review.recorded", NINE + 40 * MIN, review={**review, "round": 2, "level": 5}))
    live.apply("hall", "8-0", event("review.bad", NINE + 40 * MIN, case_id=7))
    f = live.center("hall", NINE + 41 * MIN)
    assert f["ratings"]["levels"] == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0}
    assert f["bad_reviews"] == {"open": 1, "overdue": 0}
    live.apply("hall", "9-0", event("rectification.overdue", NINE + 2000 * MIN, case_id=7, stage="contact"))
    assert live.center("hall", NINE + 2000 * MIN)["bad_reviews"] == {"open": 1, "overdue": 1}
    live.apply("hall", "10-0", event("rectification.updated", NINE + 2001 * MIN, case={
        "id": 7, "state": "contacted", "escalated": ["contact"], "contacted_at": NINE + 2001 * MIN}))
    assert live.center("hall", NINE + 2001 * MIN)["bad_reviews"] == {"open": 1, "overdue": 0}
    live.apply("hall", "11-0", event("rectification.updated", NINE + 2002 * MIN, case={"id": 7, "state": "closed"}))
    f = live.center("hall", NINE + 2002 * MIN)
    assert f["bad_reviews"] == {"open": 0, "overdue": 0}
    assert (f["day"], f["issued"], f["called"], f["ratings"]["rated"]) == ("20260311", 0, 0, 0)
    assert f["window_list"][0]["current_number"] == "A001"      # what is live now stays across midnight
