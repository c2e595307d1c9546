"""The aggregator's rules on hand-made events (no services): an event seen twice counts once, a ticket
called again replaces its wait, default and follow-up ratings are not residents' first ratings,
bad-review cases open, go overdue and close, and a new local day starts the day's counters again;
a service point's tickets count for it and as remote service, and its windows are those assigned now."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dataclasses import replace

from queue_server.domain.catalog import Center, Queue, ServicePoint, Window
from queue_server.domain.network import Assignment
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
    assert live.apply("hall", (1, 0), issued)
    assert not live.apply("hall", (1, 0), issued) and not live.apply("hall", (0, 5), issued)
    live.apply("hall", (2, 0), event("ticket.called", NINE + 20 * MIN, ticket=ticket("called", called_at=NINE + 20 * MIN),
                                    window={"id": "w1", "state": "open", "current": "hall-20260310-A001"}))
    f = live.center("hall", NINE + 21 * MIN)
    assert (f["issued"], f["called"], f["wait_avg_s"], f["service_level"]) == (1, 1, 1200.0, 0.0)
    assert f["window_list"][0]["current_number"] == "A001" and f["windows"]["open"] == 1
    live.apply("hall", (3, 0), event("ticket.transferred", NINE + 22 * MIN, ticket=ticket("waiting", called_at=NINE + 20 * MIN)))
    assert live.center("hall", NINE + 22 * MIN)["waiting"]["comprehensive"] == 1
    live.apply("hall", (4, 0), event("ticket.called", NINE + 30 * MIN, ticket=ticket("called", called_at=NINE + 30 * MIN)))
    f = live.center("hall", NINE + 31 * MIN)
    assert (f["called"], f["wait_avg_s"], f["called_1h"], f["transfers"], f["waiting_total"]) == (1, 1800.0, 1, 1, 0)
    assert f["wait_histogram"]["counts"] == [0, 0, 0, 0, 0, 1, 0, 0]

    review = {"level": 1, "round": 1, "is_default": False}
    live.apply("hall", (5, 0), event("review.recorded", NINE + 40 * MIN, review=review))
    live.apply("hall", (6, 0), event("review.recorded", NINE + 40 * MIN, review={**review, "is_default": True, "level": 5}))
    live.apply("hall", (7, 0), event("review.recorded", NINE + 40 * MIN, review={**review, "round": 2, "level": 5}))
    live.apply("hall", (8, 0), event("review.bad", NINE + 40 * MIN, case_id=7))
    f = live.center("hall", NINE + 41 * MIN)
    assert f["ratings"]["levels"] == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0}
    assert f["bad_reviews"] == {"open": 1, "overdue": 0}
    live.apply("hall", (9, 0), event("rectification.overdue", NINE + 2000 * MIN, case_id=7, stage="contact"))
    assert live.center("hall", NINE + 2000 * MIN)["bad_reviews"] == {"open": 1, "overdue": 1}
    live.apply("hall", (10, 0), event("rectification.updated", NINE + 2001 * MIN, case={
        "id": 7, "state": "contacted", "escalated": ["contact"], "contacted_at": NINE + 2001 * MIN}))
    assert live.center("hall", NINE + 2001 * MIN)["bad_reviews"] == {"open": 1, "overdue": 0}
    live.apply("hall", (11, 0), event("rectification.updated", NINE + 2002 * MIN, case={"id": 7, "state": "closed"}))
    f = live.center("hall", NINE + 2002 * MIN)
    assert f["bad_reviews"] == {"open": 0, "overdue": 0}
    assert (f["day"], f["issued"], f["called"], f["ratings"]["rated"]) == ("20260311", 0, 0, 0)
    assert f["window_list"][0]["current_number"] == "A001"      # what is live now stays across midnight


def test_service_points() -> None:
    """Remote + hall = the totals; a point's windows follow its assignments through the day; a catalog
    reloaded with a point suspended shows it; a new day starts the point's counts, its waiting stays."""
    center = replace(CENTER, windows={**CENTER.windows, "r1": Window("r1", "远程1号", "Remote 1", "remote", ()),
                                      "r2": Window("r2", "远程2号", "Remote 2", "remote", ())},
                     service_points={"p1": ServicePoint("p1", "华山居民区", "Huashan", "neighborhood_committee", ""),
                                     "p2": ServicePoint("p2", "静安公园", "Park", "park", "")},
                     assignments=(Assignment(1, "r1", "p1", 8 * 60, 12 * 60), Assignment(2, "r2", "p1", 12 * 60, 18 * 60)))
    live = LiveFigures({"hall": center}, "Asia/Shanghai", 900, NINE)

    def at(n: int, point: str | None, status: str, **times: int) -> dict:
        t = {**ticket(status, **times), "id": f"hall-20260310-R00{n}", "number": f"R00{n}"}
        return {**t, "service_point": point} if point else t

    for n, point in enumerate(("p1", "p1", "p2", None), 1):
        assert live.apply("hall", (n, 0), event("ticket.issued", NINE, ticket=at(n, point, "waiting")))
    assert not live.apply("hall", (1, 0), event("ticket.issued", NINE, ticket=at(1, "p1", "waiting")))
    live.apply("hall", (5, 0), event("ticket.called", NINE + MIN, ticket=at(1, "p1", "called", called_at=NINE + MIN),
                                    window={"id": "r1", "state": "open", "current": "hall-20260310-R001"}))
    live.apply("hall", (6, 0), event("ticket.finished", NINE + 9 * MIN, ticket=at(1, "p1", "finished", started_at=NINE + 2 * MIN,
                                                                               finished_at=NINE + 9 * MIN)))
    whole = live.all(NINE + 10 * MIN)
    f = whole["centers"]["hall"]
    assert (f["remote"], f["hall"]) == ({"issued": 3, "served": 1, "waiting": 2}, {"issued": 1, "served": 0, "waiting": 1})
    assert whole["district"]["remote"] == f["remote"] and whole["district"]["hall"] == f["hall"]
    p = {x["code"]: x for x in f["points"]}
    assert (p["p1"]["issued"], p["p1"]["served"], p["p1"]["waiting"], p["p2"]["waiting"]) == (2, 1, 1, 1)
    assert [(w["id"], w["open"]) for w in p["p1"]["windows"]] == [("r1", True)] and p["p2"]["windows"] == []
    assert p["p1"]["devices"] is None

    afternoon = live.center("hall", NINE + 4 * 60 * MIN)["points"][0]      # 13:00: r2 serves p1, and is closed
    assert [(w["id"], w["open"]) for w in afternoon["windows"]] == [("r2", False)]

    live.set_catalog({"hall": replace(center, service_points={
        **center.service_points, "p2": replace(center.service_points["p2"], status="suspended")})})
    assert live.center("hall", NINE + 11 * MIN)["points"][1]["status"] == "suspended"

    kiosk = "kiosk:-:p1-kiosk"      # a registered device at p1: its presence field, named by its device.* event
    live.set_devices("hall", [{"id": kiosk, "kind": "kiosk", "window": None, "label": "p1-kiosk", "last_seen": NINE,
                               "online": True}])
    live.apply("hall", (6, 5), event("device.online", NINE + 11 * MIN, device={"presence": kiosk, "point": "p1"}))
    p = {x["code"]: x for x in live.center("hall", NINE + 11 * MIN)["points"]}
    assert (p["p1"]["devices"], p["p2"]["devices"]) == ({"online": 1, "offline": 0}, None)

    live.apply("hall", (7, 0), event("ticket.no_show", NINE + 1500 * MIN, ticket={**at(4, None, "no_show")}))
    f = live.center("hall", NINE + 1500 * MIN)
    p = {x["code"]: x for x in f["points"]}
    assert f["remote"] == {"issued": 0, "served": 0, "waiting": 2} and (p["p1"]["issued"], p["p1"]["waiting"]) == (0, 1)


def test_an_hours_calls_are_kept_however_seldom_the_figures_are_read() -> None:
    """Calls and finishes older than the hour are let go of as new ones come (not only when a dashboard
    reads the figures: /metrics reads just the waiting), and the scrape's oldest wait is the figures'."""
    live = LiveFigures({"hall": CENTER}, "Asia/Shanghai", 900, NINE)
    hall = live.centers["hall"]
    tickets = [{**ticket("waiting"), "id": f"hall-20260310-A00{n}", "number": f"A00{n}", "issued_at": NINE + n * MIN}
               for n in (1, 2, 3)]
    for n, t in enumerate(tickets, 1):
        live.apply("hall", (n, 0), event("ticket.issued", t["issued_at"], ticket=t))
    assert (len(hall.waiting), hall.oldest_waiting_at()) == (3, NINE + MIN)
    for n, (t, at) in enumerate([(tickets[0], NINE + 10 * MIN), (tickets[1], NINE + 80 * MIN)], 4):
        live.apply("hall", (n, 0), event("ticket.called", at, ticket={**t, "status": "called", "called_at": at}))
    assert [tid for _, tid, _ in hall.calls] == ["hall-20260310-A002"]   # A001's call: over an hour before
    assert hall.oldest_waiting_at() == NINE + 3 * MIN == hall.current(NINE + 81 * MIN).oldest_waiting_at
    assert live.center("hall", NINE + 81 * MIN)["called_1h"] == 1
