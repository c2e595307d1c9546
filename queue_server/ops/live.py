"""The live figures of every center and of the district, kept up to date one stream event at a time:
``apply`` is all the feed calls, ``figures`` reads them at a moment. No I/O here, so the same class
is warmed from today's recorded events at start and then fed the live ones.

Definitions (the reports in ``reports.py`` use the same ones over any range of days):

- a center's **day** is its local service day; the day figures count the tickets issued that day
  (a ticket keeps counting on the day it was issued, as the record's ``tickets.day`` does);
- **wait** of a ticket: from issue to its (latest) call; **handling**: from start to finish;
- **service level**: share of the day's called tickets whose wait is within the target;
- **no-show rate**: no-shows / (finished + no-shows);
- **last hour**: tickets of the day called (wait) or finished (handling) within the hour before now;
- **waiting now**: tickets in the waiting state, whatever day they were issued; **longest wait** is
  the time since the oldest of them was issued;
- **ratings** of the day: residents' own first ratings given that day (not defaults);
- **bad reviews open**: rectification cases not closed; **overdue**: open cases with a stage the
  evaluation escalated as past its deadline and not yet done;
- **remote** service: tickets issued at a neighborhood service point (the ticket's ``service_point``),
  served by a remote window; **hall**: every other ticket. Issued, served (finished) and waiting now
  are counted for each, per center and for the district (remote + hall = the totals);
- a **service point's** figures: tickets issued from it today, served today, waiting now; the remote
  windows assigned to it at this moment of the local week (``domain/network.py``) with their state
  now; its devices online, for the registered devices whose ``device.online``/``device.offline``
  event named the point (devices/watch.py); null where none did;
- **packages** of originals (materials/handover.py), whatever day they were packed: **in transit**
  packed or sent and not yet received at the center; **at the center** received and not yet
  returned; **returns overdue** at the center past their ``return_due_at``;
- **door-to-door** cases (door/) open now, by stage, from their ``door.case`` events: awaiting
  review, to schedule, scheduled, tracking their approvals, and those with an approval overdue
  (reminded and still undecided).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from ..domain.catalog import Center
from ..domain.materials import AT_CENTER, IN_TRANSIT, return_overdue
from ..domain.network import local_moment, serving_windows
from ..realtime.events import StreamKey, format_id, parse_id

DOOR_OPEN = ("discovered", "approved", "scheduled", "tracking")   # domain/door.OPEN, as the events name them
BUCKET_MS = 15 * 60_000
HOUR_MS = 3_600_000
WAIT_EDGES_MIN = (0, 5, 10, 15, 20, 30, 45, 60)     # histogram bins [edge, next edge); the last is open
STATES = ("open", "paused", "closed")
CLOSED_CASES = frozenset({"closed", "upheld"})
PAUSED_CASES = frozenset({"appealed", "upheld", "closed"})
STAGE_DONE = {"contact": "contacted_at", "resolve": "verified_at", "rectify": "rectified_at"}


def day_span(day: str, tz: str) -> tuple[int, int]:
    """[start, end) in ms of a local day given as YYYYMMDD."""
    zone = ZoneInfo(tz)
    start = datetime(int(day[:4]), int(day[4:6]), int(day[6:]), tzinfo=zone)
    end = (start + timedelta(days=1, hours=3)).replace(hour=0)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def local_day(ms: int, tz: str) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone(ZoneInfo(tz)).strftime("%Y%m%d")


def wait_bin(wait_s: float) -> int:
    minutes = wait_s / 60
    for i in range(len(WAIT_EDGES_MIN) - 1, -1, -1):
        if minutes >= WAIT_EDGES_MIN[i]:
            return i
    return 0


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _avg(total: float, n: int) -> float | None:
    return round(total / n, 1) if n else None


@dataclass
class Totals:
    """The raw sums behind a center's figures; the district's are the centers' added up."""
    buckets: int
    issued: int = 0
    served: int = 0
    no_shows: int = 0
    cancelled: int = 0
    transfers: int = 0
    called: int = 0
    within: int = 0
    wait_sum: float = 0.0
    handling_sum: float = 0.0
    handling_n: int = 0
    wait_1h_sum: float = 0.0
    wait_1h_n: int = 0
    handling_1h_sum: float = 0.0
    handling_1h_n: int = 0
    waiting: dict[str, int] = field(default_factory=dict)
    oldest_waiting_at: int | None = None
    windows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    issued_curve: list[int] = field(default_factory=list)
    served_curve: list[int] = field(default_factory=list)
    histogram: list[int] = field(default_factory=lambda: [0] * len(WAIT_EDGES_MIN))
    levels: list[int] = field(default_factory=lambda: [0] * 5)
    cases_open: int = 0
    cases_overdue: int = 0
    devices_online: int = 0
    devices_offline: int = 0
    inspections_failed: int = 0
    lag_ms: int = 0
    pending: int = 0
    undelivered: int = 0
    remote_issued: int = 0
    remote_served: int = 0
    remote_waiting: int = 0
    packages_in_transit: int = 0
    packages_at_center: int = 0
    returns_overdue: int = 0
    door_discovered: int = 0
    door_approved: int = 0
    door_scheduled: int = 0
    door_tracking: int = 0
    door_overdue: int = 0

    def __post_init__(self) -> None:
        self.issued_curve = self.issued_curve or [0] * self.buckets
        self.served_curve = self.served_curve or [0] * self.buckets

    def add(self, o: "Totals") -> None:
        for name in ("issued", "served", "no_shows", "cancelled", "transfers", "called", "within", "wait_sum",
                     "handling_sum", "handling_n", "wait_1h_sum", "wait_1h_n", "handling_1h_sum", "handling_1h_n",
                     "cases_open", "cases_overdue", "devices_online", "devices_offline", "inspections_failed", "pending", "undelivered",
                     "remote_issued", "remote_served", "remote_waiting", "packages_in_transit", "packages_at_center",
                     "returns_overdue", "door_discovered", "door_approved", "door_scheduled", "door_tracking",
                     "door_overdue"):
            setattr(self, name, getattr(self, name) + getattr(o, name))
        for q, n in o.waiting.items():
            self.waiting[q] = self.waiting.get(q, 0) + n
        for s, n in o.windows.items():
            self.windows[s] = self.windows.get(s, 0) + n
        if o.oldest_waiting_at is not None:
            self.oldest_waiting_at = min(self.oldest_waiting_at or o.oldest_waiting_at, o.oldest_waiting_at)
        for mine, theirs in ((self.issued_curve, o.issued_curve), (self.served_curve, o.served_curve),
                             (self.histogram, o.histogram), (self.levels, o.levels)):
            for i, n in enumerate(theirs[:len(mine)]):
                mine[i] += n
        self.lag_ms = max(self.lag_ms, o.lag_ms)

    def present(self, now_ms: int, target_s: int) -> dict[str, Any]:
        rated = sum(self.levels)
        good = self.levels[3] + self.levels[4]
        bad = self.levels[0] + self.levels[1]
        waiting_total = sum(self.waiting.values())
        return {
            "issued": self.issued, "served": self.served, "no_shows": self.no_shows, "cancelled": self.cancelled,
            "transfers": self.transfers, "called": self.called,
            "waiting": dict(sorted(self.waiting.items())), "waiting_total": waiting_total,
            "oldest_waiting_at": self.oldest_waiting_at,
            "longest_wait_s": round(max(0, now_ms - self.oldest_waiting_at) / 1000, 1) if self.oldest_waiting_at else 0,
            "wait_avg_s": _avg(self.wait_sum, self.called),
            "handling_avg_s": _avg(self.handling_sum, self.handling_n),
            "wait_avg_1h_s": _avg(self.wait_1h_sum, self.wait_1h_n), "called_1h": self.wait_1h_n,
            "handling_avg_1h_s": _avg(self.handling_1h_sum, self.handling_1h_n), "finished_1h": self.handling_1h_n,
            "service_level": _rate(self.within, self.called), "service_level_target_s": target_s,
            "no_show_rate": _rate(self.no_shows, self.served + self.no_shows),
            "windows": dict(self.windows),
            "curve": {"bucket_s": BUCKET_MS // 1000, "issued": list(self.issued_curve), "served": list(self.served_curve)},
            "wait_histogram": {"edges_min": list(WAIT_EDGES_MIN), "counts": list(self.histogram)},
            "ratings": {"rated": rated, "good": good, "bad": bad, "levels": {str(i + 1): n for i, n in enumerate(self.levels)},
                        "satisfaction_rate": _rate(good, rated)},
            "bad_reviews": {"open": self.cases_open, "overdue": self.cases_overdue},
            "devices": {"online": self.devices_online, "offline": self.devices_offline,
                        "inspections_failed": self.inspections_failed},
            "persister": {"lag_ms": self.lag_ms, "pending": self.pending, "undelivered": self.undelivered},
            "remote": {"issued": self.remote_issued, "served": self.remote_served, "waiting": self.remote_waiting},
            "hall": {"issued": self.issued - self.remote_issued, "served": self.served - self.remote_served,
                     "waiting": waiting_total - self.remote_waiting},
            "packages": {"in_transit": self.packages_in_transit, "at_center": self.packages_at_center,
                         "returns_overdue": self.returns_overdue},
            "door": {"discovered": self.door_discovered, "approved": self.door_approved,
                     "scheduled": self.door_scheduled, "tracking": self.door_tracking, "overdue": self.door_overdue},
        }


@dataclass(slots=True)
class _Mark:
    """What is remembered of a ticket not yet final: enough to replace its wait when it is called again."""
    queue: str
    day: str
    issued_at: int
    status: str
    called_at: int | None = None
    wait_s: float | None = None
    point: str | None = None


@dataclass(slots=True)
class PointDay:
    """A service point's counts of the day."""
    issued: int = 0
    served: int = 0


class CenterLive:
    """One center's running figures."""

    def __init__(self, center: Center, tz: str, day: str, target_s: int) -> None:
        self.center = center
        self.tz = tz
        self.target_s = target_s
        self.cursor_key: StreamKey | None = None    # the last event applied
        self.version = 0
        self.windows: dict[str, dict[str, Any]] = {code: {"id": code, "state": "closed"} for code in center.windows}
        self.marks: dict[str, _Mark] = {}
        self.waiting: dict[str, tuple[str, int, str | None]] = {}   # ticket id -> (queue, issued_at, point)
        self.cases: dict[int, dict[str, Any]] = {}          # open rectification cases
        self.devices: list[dict[str, Any]] = []             # as the poller found them in the presence hash
        self.device_states: dict[str, bool] = {}             # presence field -> online, from device.* events
        self.device_points: dict[str, str] = {}              # presence field -> the point it stands at (registry)
        self.inspections_failed = 0                          # today's device.inspection_failed events
        self.persister: dict[str, int] = {"lag_ms": 0, "pending": 0, "undelivered": 0}
        self.packages: dict[int, tuple[str, int | None]] = {}    # open package id -> (state, return due ms)
        self.door: dict[int, tuple[str, frozenset[str]]] = {}   # open door case -> (stage, matters overdue)
        self.start_day(day)

    @property
    def cursor(self) -> str | None:
        """The id of the last event applied."""
        return format_id(self.cursor_key) if self.cursor_key is not None else None

    def start_day(self, day: str) -> None:
        """A new service day: the day's counters start again; what is live now stays."""
        self.day = day
        self.day_start, day_end = day_span(day, self.tz)
        self.totals = Totals(buckets=max(1, -(-(day_end - self.day_start) // BUCKET_MS)))
        self.calls: deque[tuple[int, str, float]] = deque()      # (called_at, ticket id, wait s) of the day
        self.finishes: deque[tuple[int, float]] = deque()        # (finished_at, handling s) of the day
        self.superseded: set[tuple[str, int]] = set()           # calls replaced by a later call of the ticket
        self.points: dict[str, PointDay] = {}                    # service point code -> its counts of the day
        for tid in [t for t, m in self.marks.items() if m.day != day and m.wait_s is not None]:
            self.marks[tid].wait_s = None
        self.version += 1

    def _bucket(self, ms: int) -> int | None:
        i = (ms - self.day_start) // BUCKET_MS
        return int(i) if 0 <= i < self.totals.buckets else None

    # -- events ---------------------------------------------------------------------------------

    def window_view(self, view: dict[str, Any]) -> None:
        """A window as an event or snapshot shows it now. The view is the window's whole state, and a
        field left empty (no ticket at the window, no staff after closing) is absent from it: it
        replaces what was known rather than being merged into it. Kept as it came (read-only, as an
        event's data is): the catalog's name and kind go under it when the figures are read."""
        if view.get("id") and "state" in view:
            self.windows[view["id"]] = view

    def _window_as_shown(self, code: str) -> dict[str, Any]:
        """A window as the figures show it: its view over the catalog's name and kind (closed when no
        event or snapshot has shown it)."""
        view = self.windows.get(code) or {"id": code, "state": "closed"}
        w = self.center.windows.get(code)
        return _window({"name_zh": w.name_zh, "name_en": w.name_en, "kind": w.kind, **view} if w else view)

    def ticket(self, kind: str, t: dict[str, Any]) -> None:
        tid, tot = t["id"], self.totals
        today = t.get("day") == self.day
        mark = self.marks.get(tid)
        if mark is None:
            mark = self.marks[tid] = _Mark(t["queue"], t.get("day", ""), int(t["issued_at"]), t["status"])
        mark.queue, mark.status = t["queue"], t["status"]
        point = mark.point = t.get("service_point") or mark.point
        if today:
            if kind == "ticket.issued":
                tot.issued += 1
                self._count(tot.issued_curve, int(t["issued_at"]))
                if point:
                    tot.remote_issued += 1
                    self.points.setdefault(point, PointDay()).issued += 1
            elif kind == "ticket.called":
                self._called(tid, mark, int(t["called_at"]))
            elif kind == "ticket.finished":
                tot.served += 1
                if point:
                    tot.remote_served += 1
                    self.points.setdefault(point, PointDay()).served += 1
                finished = int(t["finished_at"])
                self._count(tot.served_curve, finished)
                if t.get("started_at"):
                    took = (finished - int(t["started_at"])) / 1000
                    tot.handling_sum += took
                    tot.handling_n += 1
                    self.finishes.append((finished, took))
                    self._forget_before(finished - HOUR_MS)
            elif kind == "ticket.no_show":
                tot.no_shows += 1
            elif kind == "ticket.cancelled":
                tot.cancelled += 1
            elif kind == "ticket.transferred":
                tot.transfers += 1
        if t["status"] == "waiting":
            self.waiting[tid] = (t["queue"], int(t["issued_at"]), point)
        else:
            self.waiting.pop(tid, None)
        if t["status"] in ("finished", "no_show", "cancelled"):
            del self.marks[tid]

    def _count(self, curve: list[int], ms: int) -> None:
        i = self._bucket(ms)
        if i is not None:
            curve[i] += 1

    def _called(self, tid: str, mark: _Mark, called_at: int) -> None:
        tot = self.totals
        if mark.wait_s is not None and mark.called_at is not None:
            tot.called -= 1
            tot.wait_sum -= mark.wait_s
            tot.within -= mark.wait_s <= self.target_s
            tot.histogram[wait_bin(mark.wait_s)] -= 1
            self.superseded.add((tid, mark.called_at))
        wait = (called_at - mark.issued_at) / 1000
        mark.called_at, mark.wait_s = called_at, wait
        tot.called += 1
        tot.wait_sum += wait
        tot.within += wait <= self.target_s
        tot.histogram[wait_bin(wait)] += 1
        self.calls.append((called_at, tid, wait))
        self._forget_before(called_at - HOUR_MS)

    def review(self, review: dict[str, Any]) -> None:
        if int(review.get("round", 1)) == 1 and not review.get("is_default"):
            level = int(review["level"])
            if 1 <= level <= 5:
                self.totals.levels[level - 1] += 1

    def case_opened(self, case_id: int) -> None:
        self.cases.setdefault(case_id, {"state": "open", "escalated": set(), "done": set()})

    def case_updated(self, case: dict[str, Any]) -> None:
        if case.get("state") in CLOSED_CASES:
            self.cases.pop(int(case["id"]), None)
            return
        self.cases[int(case["id"])] = {
            "state": case.get("state", "open"), "escalated": set(case.get("escalated") or ()),
            "done": {stage for stage, at in STAGE_DONE.items() if case.get(at)}}

    def case_overdue(self, case_id: int, stage: str) -> None:
        self.case_opened(case_id)
        self.cases[case_id]["escalated"].add(stage)

    def device_state(self, device: dict[str, Any], online: bool) -> None:
        """A registered device's announced transition (devices/watch.py): its figure follows the event."""
        field = device.get("presence")
        if isinstance(field, str):
            self.device_states[field] = online
            if device.get("point"):
                self.device_points[field] = str(device["point"])

    def package(self, p: dict[str, Any]) -> None:
        """A package of originals as its step's event shows it; a returned one is done with."""
        if p.get("state") == "returned":
            self.packages.pop(int(p["id"]), None)
        elif p.get("id") is not None:
            self.packages[int(p["id"])] = (str(p.get("state")), p.get("return_due_at"))

    def door_case(self, case_id: int, stage: str, action: str, detail: dict[str, Any]) -> None:
        """A door-to-door case as its transition's event shows it: its stage, and the matters whose
        approval is overdue (reminded, and not decided or given a new date since); a case no longer
        open is done with."""
        if stage not in DOOR_OPEN:
            self.door.pop(case_id, None)
            return
        overdue = self.door.get(case_id, ("", frozenset()))[1]
        matter = detail.get("matter")
        if matter and action == "approval_overdue":
            overdue = overdue | {matter}
        elif matter and action == "approval":
            overdue = overdue | {matter} if detail.get("overdue") else overdue - {matter}
        self.door[case_id] = (stage, overdue)

    # -- reading --------------------------------------------------------------------------------

    def device_list(self) -> list[dict[str, Any]]:
        """The devices heard from, online as their last device.online/offline event says (registered
        ones), else as the presence hash does; with the point a registered one stands at."""
        states, points = self.device_states, self.device_points
        if not states:
            return list(self.devices)
        out = []
        for d in self.devices:
            if d["id"] in states and states[d["id"]] != d["online"]:
                d = {**d, "online": states[d["id"]]}
            if d["id"] in points and d.get("point") != points[d["id"]]:
                d = {**d, "point": points[d["id"]]}
            out.append(d)
        return out

    def _forget_before(self, since: int) -> None:
        """Let go of the calls and finishes at or before ``since``: out of the last hour's figures. Done
        as each is added too, so what is kept stays an hour's however seldom the figures are read."""
        while self.calls and self.calls[0][0] <= since:
            called_at, tid, _ = self.calls.popleft()
            self.superseded.discard((tid, called_at))
        while self.finishes and self.finishes[0][0] <= since:
            self.finishes.popleft()

    def oldest_waiting_at(self) -> int | None:
        """When the longest-waiting ticket was issued (ms): the scrape's gauge without the rest of
        ``current``, which cost /metrics 35 ms of the event loop at the city's 287 centers."""
        return min((issued_at for _, issued_at, _ in self.waiting.values()), default=None)

    def current(self, now_ms: int) -> Totals:
        """The day's sums plus what depends on the moment: waiting now, the last hour."""
        tot = Totals(buckets=self.totals.buckets)
        tot.add(self.totals)
        self._forget_before(now_ms - HOUR_MS)
        for called_at, tid, wait in self.calls:
            if called_at <= now_ms and (tid, called_at) not in self.superseded:
                tot.wait_1h_sum += wait
                tot.wait_1h_n += 1
        for finished_at, took in self.finishes:
            if finished_at <= now_ms:
                tot.handling_1h_sum += took
                tot.handling_1h_n += 1
        tot.waiting = dict.fromkeys(self.center.queues, 0)
        for queue, issued_at, point in self.waiting.values():
            tot.waiting[queue] = tot.waiting.get(queue, 0) + 1
            tot.remote_waiting += point is not None
            if tot.oldest_waiting_at is None or issued_at < tot.oldest_waiting_at:
                tot.oldest_waiting_at = issued_at
        tot.windows = dict.fromkeys(STATES, 0)
        for w in self.windows.values():
            tot.windows[w.get("state", "closed")] = tot.windows.get(w.get("state", "closed"), 0) + 1
        tot.cases_open = len(self.cases)
        tot.cases_overdue = sum(1 for c in self.cases.values()
                                if c["state"] not in PAUSED_CASES and c["escalated"] - c["done"])
        tot.devices_online = sum(1 for d in self.device_list() if d["online"])
        tot.devices_offline = len(self.devices) - tot.devices_online
        tot.inspections_failed = self.inspections_failed
        tot.lag_ms, tot.pending, tot.undelivered = (self.persister["lag_ms"], self.persister["pending"],
                                                    self.persister["undelivered"])
        for state, due in self.packages.values():
            tot.packages_in_transit += state in IN_TRANSIT
            tot.packages_at_center += state == AT_CENTER
            tot.returns_overdue += return_overdue(state, due, now_ms)
        for stage, overdue in self.door.values():
            setattr(tot, f"door_{stage}", getattr(tot, f"door_{stage}") + 1)
            tot.door_overdue += bool(overdue)
        return tot

    def figures(self, now_ms: int, tot: Totals | None = None) -> dict[str, Any]:
        c = self.center
        out = (tot or self.current(now_ms)).present(now_ms, self.target_s)
        out.update({
            "center": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "day": self.day, "cursor": self.cursor,
            "queues": [{"code": q.code, "prefix": q.prefix, "name_zh": q.name_zh, "name_en": q.name_en}
                       for q in c.queues.values()],
            "window_list": [self._window_as_shown(code) for code in self.windows],
            "device_list": self.device_list(),
            "points": self.point_list(now_ms),
        })
        return out

    def point_list(self, now_ms: int) -> list[dict[str, Any]]:
        """Every service point of the center with its figures (see the module's definitions)."""
        c = self.center
        waiting: dict[str, int] = {}
        for _, _, point in self.waiting.values():
            if point is not None:
                waiting[point] = waiting.get(point, 0) + 1
        moment = local_moment(now_ms, c.timezone)
        devices = self.device_list()
        out = []
        for code, p in c.service_points.items():
            day = self.points.get(code) or PointDay()
            windows = []
            for w in serving_windows(c.assignments, code, moment):
                view = self._window_as_shown(w)
                windows.append({k: view[k] for k in ("id", "name_zh", "name_en", "state", "staff_name", "current_number")}
                               | {"open": view["state"] == "open"})
            known = [d for d in devices if d.get("point") == code]
            out.append({"code": code, "name_zh": p.name_zh, "name_en": p.name_en, "kind": p.kind, "status": p.status,
                        "issued": day.issued, "served": day.served, "waiting": waiting.get(code, 0),
                        "windows": windows,
                        "devices": {"online": sum(1 for d in known if d["online"]),
                                    "offline": sum(1 for d in known if not d["online"])} if known else None})
        return out


def _window(w: dict[str, Any]) -> dict[str, Any]:
    current = w.get("current") or None
    return {"id": w["id"], "name_zh": w.get("name_zh"), "name_en": w.get("name_en"), "kind": w.get("kind"),
            "state": w.get("state", "closed"), "staff_id": w.get("staff_id"), "staff_name": w.get("staff_name"),
            "staff_no": w.get("staff_no"), "pause_reason": w.get("pause_reason") or None, "since": w.get("since"),
            "current": current, "current_number": current.rsplit("-", 1)[1] if current else None}


class LiveFigures:
    """Every center's running figures; ``apply`` one stream event at a time, in stream order."""

    def __init__(self, centers: dict[str, Center], tz: str, target_s: int, now_ms: int) -> None:
        self.tz = tz
        self.target_s = target_s
        self.day = local_day(now_ms, tz)
        self._day_end_ms = day_span(self.day, tz)[1]
        self.centers = {code: CenterLive(c, tz, self.day, target_s) for code, c in centers.items()}
        self.version = 0

    def roll(self, now_ms: int) -> None:
        """Start a new day once ``now_ms`` passes the current one's end (every event calls this)."""
        if now_ms < self._day_end_ms:
            return
        day = local_day(now_ms, self.tz)
        self._day_end_ms = day_span(day, self.tz)[1]
        if day > self.day:
            self.day = day
            for c in self.centers.values():
                c.start_day(day)
            self.version += 1

    def apply(self, center: str, key: StreamKey | None, data: dict[str, Any]) -> bool:
        """Take one event of ``center``'s stream (``key``: its id as the reader parsed it); False when it
        was seen already (at or below the cursor)."""
        live = self.centers.get(center)
        if live is None:
            return False
        if key is not None:
            if live.cursor_key is not None and key <= live.cursor_key:
                return False
            live.cursor_key = key
        self._apply(live, data)
        return True

    def _apply(self, live: CenterLive, data: dict[str, Any]) -> None:
        at = data.get("at")
        if isinstance(at, int):
            self.roll(at)
        kind = str(data.get("type", ""))
        ticket, window = data.get("ticket"), data.get("window")
        if kind.startswith(("ticket.", "window.")) and isinstance(window, dict):
            live.window_view(window)
        if kind.startswith("ticket.") and isinstance(ticket, dict):
            live.ticket(kind, ticket)
        elif kind == "review.recorded" and isinstance(data.get("review"), dict):
            live.review(data["review"])
        elif kind == "review.bad" and data.get("case_id") is not None:
            live.case_opened(int(data["case_id"]))
        elif kind == "rectification.updated" and isinstance(data.get("case"), dict):
            live.case_updated(data["case"])
        elif kind == "rectification.overdue" and data.get("case_id") is not None:
            live.case_overdue(int(data["case_id"]), str(data.get("stage", "")))
        elif kind in ("device.online", "device.offline") and isinstance(data.get("device"), dict):
            live.device_state(data["device"], kind == "device.online")
        elif kind == "device.inspection_failed":
            live.inspections_failed += 1
        elif kind.startswith("package.") and isinstance(data.get("package"), dict):
            live.package(data["package"])
        elif kind == "door.case" and data.get("case_id") is not None and isinstance(data.get("detail"), dict):
            live.door_case(int(data["case_id"]), str(data.get("to_stage")), str(data.get("action")), data["detail"])
        live.version += 1
        self.version += 1

    def load(self, center: str, events: list[tuple[str, dict[str, Any]]], tail: str | None,
             snapshot: dict[str, Any], cases: list[dict[str, Any]], now_ms: int,
             packages: Sequence[dict[str, Any]] = (), door_cases: Sequence[dict[str, Any]] = ()) -> None:
        """Start a center afresh from what was read at start (see warm.py): its open cases, packages and door cases, today's
        events in order, then the windows and live tickets of a snapshot taken after those events.
        Live events after ``tail`` follow through ``apply``."""
        self.roll(now_ms)
        old = self.centers[center]
        live = self.centers[center] = CenterLive(old.center, self.tz, self.day, self.target_s)
        live.devices, live.persister, live.version = old.devices, old.persister, old.version + 1
        live.device_states, live.device_points = dict(old.device_states), dict(old.device_points)
        for case in cases:
            live.case_updated(case)
        for p in packages:
            live.package(p)
        for d in door_cases:
            live.door[int(d["id"])] = (str(d["stage"]), frozenset(d["overdue"]))
        for _, data in events:
            self._apply(live, data)
        for w in snapshot.get("windows") or []:
            live.window_view(w)
        for t in snapshot.get("tickets") or []:
            if t["id"] not in live.marks and t.get("status") not in ("finished", "no_show", "cancelled"):
                point = t.get("service_point") or None
                live.marks[t["id"]] = _Mark(t["queue"], t.get("day", ""), int(t["issued_at"]), t["status"],
                                            t.get("called_at"), point=point)
                if t["status"] == "waiting":
                    live.waiting[t["id"]] = (t["queue"], int(t["issued_at"]), point)
        live.cursor_key = parse_id(tail)
        self.version += 1

    def set_devices(self, center: str, devices: list[dict[str, Any]]) -> None:
        live = self.centers.get(center)
        if live is not None and devices != live.devices:
            live.devices = devices
            live.version += 1
            self.version += 1

    def set_catalog(self, centers: dict[str, Center]) -> None:
        """Take a reloaded catalog (a network change: a point's status, its assignments): each center's
        figures read its points and windows from it from now on; the counts stay."""
        for code, c in centers.items():
            live = self.centers.get(code)
            if live is not None and live.center is not c:
                live.center = c
                live.version += 1
                self.version += 1

    def set_persister(self, center: str, lag: dict[str, int]) -> None:
        live = self.centers.get(center)
        if live is not None and lag != live.persister:
            live.persister = lag
            live.version += 1
            self.version += 1

    def center(self, code: str, now_ms: int) -> dict[str, Any]:
        self.roll(now_ms)
        return self.centers[code].figures(now_ms)

    def all(self, now_ms: int, only: str | None = None) -> dict[str, Any]:
        """``{"centers": {code: figures}, "district": figures}``; ``only`` one center (no district)."""
        self.roll(now_ms)
        if only is not None:
            return {"centers": {only: self.centers[only].figures(now_ms)}, "district": None}
        district: Totals | None = None
        out: dict[str, Any] = {}
        for code, live in self.centers.items():
            tot = live.current(now_ms)
            out[code] = live.figures(now_ms, tot)
            if district is None:
                district = Totals(buckets=tot.buckets)
            district.add(tot)
        return {"centers": out,
                "district": {**(district or Totals(buckets=96)).present(now_ms, self.target_s), "day": self.day}}
