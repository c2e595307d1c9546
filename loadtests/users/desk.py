"""HTTP users: kiosks issue tickets, window clerks work their windows through the whole life cycle
(each finish handed to its window's review tablet, ``tablets.py``), residents look at their
ticket's status page; and the two closed-loop users of the capacity phases (a full visit per cycle
against our server, one script call against the bare baseline)."""
from __future__ import annotations

import json
import random
import uuid
from itertools import count
from typing import Any

import gevent
import orjson
from locust import User, task

from loadtests.lean_http import LeanHttp
from loadtests.plan import clerk_windows
from loadtests.profiles import NO_SHOW, PHONE_SHARE, RECALL, TRANSFER

from .common import OPEN_FOR_BUSINESS, RECENT, TALLY, plan, slot, timed, worker_index
from .tablets import after_finish

SERVICE_POINT_SHARE = 0.2      # 4 remote windows of 20: a fifth of the tickets come from service points
QUICK_SHARE = 0.3
PRIORITY_SHARE = 0.1
_phones = count(1)


class Desk(User):
    """A user bound to one server of the run (they take turns), with its index among its kind, and a
    keep-alive connection to it."""

    abstract = True
    pace: str | None = None   # its kind's entry of the plan's rates: actions a second of each such user

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.index = slot(environment, type(self).__name__)
        self.last_problem = ""
        servers = plan().servers
        self.server = servers[self.index % len(servers)]
        self.http = LeanHttp(self.server)

    def on_start(self) -> None:
        """Wait for the doors to open, then for a random part of its own period: kiosks and clerks
        released together kept acting in step (the same action at every window in the same instant,
        the tablets' ratings of the finishes in bursts of several times their rate every ~26 s), as
        no hall does."""
        OPEN_FOR_BUSINESS.wait()
        if self.pace:
            gevent.sleep(random.uniform(0, 1 / plan().rates[self.pace]))

    def on_stop(self) -> None:
        self.http.close()

    def post(self, path: str, name: str, token: str, body: dict | None = None, ok: tuple[int, ...] = (200,),
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """POST JSON, counted under ``name``; a status outside ``ok`` is a failure. Returns status and JSON."""
        fields = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})}
        status, answer = timed(self.environment, name, lambda: self.http.request("POST", path, orjson.dumps(body or {}),
                                                                                 fields), ok, server=self.server)
        if status not in ok:
            self.last_problem = answer.decode(errors="replace")
            return status, None
        return status, (orjson.loads(answer) if status != 204 else None)


def next_phone(environment: Any) -> str:
    """A mobile number of its own for every ticket (SMS limits are per number)."""
    return f"139{worker_index(environment) % 10}{next(_phones) % 10_000_000:07d}"


def ticket_body(center: dict[str, Any], onsite: bool, phone: str | None) -> dict[str, Any]:
    lines = plan().matters
    if not onsite and center["points"]:
        body = {"matter": random.choice(lines["remote"]), "channel": "service_point",
                "service_point": random.choice(center["points"])}
    else:
        body = {"matter": random.choice(lines["quick" if random.random() < QUICK_SHARE else "comprehensive"]),
                "channel": "kiosk"}
    if random.random() < PRIORITY_SHARE:
        body["priority"] = "priority"
    if phone:
        body["phone"] = phone
    return body


class KioskUser(Desk):
    """A lobby kiosk or a service point's all-in-one: issues tickets, a fifth of them remote."""

    abstract = True
    pace = "kiosk"

    @task
    def issue(self) -> None:
        center = random.choice(plan().centers)
        phone = next_phone(self.environment) if random.random() < PHONE_SHARE else None
        body = ticket_body(center, random.random() >= SERVICE_POINT_SHARE, phone)
        status, out = self.post(f"/api/v1/centers/{center['code']}/tickets", "issue", plan().kiosk_tokens[center["code"]],
                                body, ok=(201,), headers={"Idempotency-Key": uuid.uuid4().hex})
        if out is not None:
            RECENT.append(out["id"])


class ClerkUser(Desk):
    """Staff working a share of the windows, one action per turn: call the next ticket, sometimes
    recall it or mark it a no-show, start, finish, sometimes transfer it to another line."""

    abstract = True
    pace = "clerk"

    def on_start(self) -> None:
        super().on_start()
        n = type(self).fixed_count or 1
        if self.index >= n:   # a user Locust restarted: its windows are another clerk's too
            TALLY.count("clerk_slots_reused")
        mine = clerk_windows(plan().clerks, self.index, n, plan().rates[self.pace])
        # Each window joins after 0-2 rounds: a user works ~29 windows in turn, a window's visit is
        # three of its turns (call, start, finish), and windows all joining at once kept every window
        # of the run in step — 9 s of call-nexts, 9 s of starts, 9 s of finishes (and of the tablets'
        # ratings after them, in bursts of several times their rate) — a 27 s cycle no hall has.
        self.windows = [{"center": c, "window": w, "token": t, "ticket": None, "state": "idle", "recalls": 0,
                         "rest": random.randint(0, 2)} for c, w, t in mine]
        self.turn = 0

    @task
    def work(self) -> None:
        """One action, at the next window in turn that is not resting."""
        for _ in range(len(self.windows)):
            w = self.windows[self.turn % len(self.windows)]
            self.turn += 1
            if w["rest"]:
                w["rest"] -= 1
                continue
            try:
                self.act(w)
            except Exception:  # noqa: BLE001 - the failure is already counted; this window is out of step now
                TALLY.count("clerk_windows_lost")
                self.windows.remove(w)
            return

    def act(self, w: dict[str, Any]) -> None:
        c, tok, r = w["center"], w["token"], random.random()
        if w["state"] == "idle":
            status, out = self.post(f"/api/v1/centers/{c}/windows/{w['window']}/call-next", "call-next", tok, ok=(200, 204))
            if status == 409 and self.resync(w):
                return
            if status == 204:
                TALLY.count("call_next_empty")
            elif out is None:
                raise RuntimeError(status)
            else:
                w.update(state="called", ticket=out["ticket"]["id"], recalls=0)
            return
        path = f"/api/v1/tickets/{w['ticket']}"
        if w["state"] == "called":
            if r < RECALL and w["recalls"] < 2:
                self.must(path + "/recall", "recall", tok)
                w["recalls"] += 1
            elif r < RECALL + NO_SHOW:
                self.must(path + "/no-show", "no-show", tok)
                w["state"] = "idle"
            else:
                self.must(path + "/start", "start", tok)
                w["state"] = "serving"
            return
        if r < TRANSFER:
            self.must(path + "/transfer", "transfer", tok,
                      {"to_queue": "remote" if w["window"].startswith("r") else "quick", "reason": "load: another line"})
        else:
            after_finish(self.environment, self.server, c, self.must(path + "/finish", "finish", tok))
        w["state"] = "idle"

    def resync(self, w: dict[str, Any]) -> bool:
        """The window already has a ticket (the engine's 409 names it): go on from there, as the
        staff console does; counted, and still reported as the failure it was."""
        try:
            problem = json.loads(self.last_problem)
        except ValueError:
            return False
        if not isinstance(problem, dict) or problem.get("code") != "window_busy":
            return False
        TALLY.count("clerk_resynced")
        w.update(state=problem["current_status"], ticket=problem["current_ticket"], recalls=0)
        return True

    def must(self, path: str, name: str, token: str, body: dict | None = None) -> dict[str, Any]:
        """POST an action that must succeed; returns its answer (the ticket)."""
        answer = self.post(path, name, token, body)[1]
        if answer is None:
            raise RuntimeError(name)
        return answer


class ResidentUser(Desk):
    """A resident glancing at their ticket's status page (the page a printed QR code opens)."""

    abstract = True
    pace = "resident"

    @task
    def look(self) -> None:
        if not RECENT:
            return
        tid = random.choice(RECENT)
        timed(self.environment, "status page", lambda: self.http.request("GET", f"/api/v1/tickets/{tid}"), (200,), "GET",
              self.server)


class CapacityUser(Desk):
    """Closed loop, no pause: one whole visit per cycle at one of its windows (issue, call-next,
    start, finish), so the mix of operations stays fixed however fast the server answers."""

    abstract = True

    def on_start(self) -> None:
        super().on_start()
        n = type(self).fixed_count or 1
        self.windows = plan().clerks[self.index % n::n]
        self.centers = {c["code"]: c for c in plan().centers}
        self.turn = 0

    @task
    def visit(self) -> None:
        c, w, tok = self.windows[self.turn % len(self.windows)]
        self.turn += 1
        center = self.centers[c]
        status, out = self.post(f"/api/v1/centers/{c}/tickets", "issue", plan().kiosk_tokens[c],
                                ticket_body(center, not w.startswith("r"), None), ok=(201,))
        if out is None:
            return
        status, called = self.post(f"/api/v1/centers/{c}/windows/{w}/call-next", "call-next", tok, ok=(200, 204))
        if called is None:
            return
        path = f"/api/v1/tickets/{called['ticket']['id']}"
        if self.post(path + "/start", "start", tok)[1] is not None:
            self.post(path + "/finish", "finish", tok)


class BaselineUser(User):
    """The same shape against the bare endpoint: one Redis script call per request, nothing else."""

    abstract = True
    BODY = orjson.dumps({"matter": "hrss-001", "channel": "kiosk"})

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        servers = plan().servers
        self.http = LeanHttp(servers[slot(environment, "BaselineUser") % len(servers)])

    @task
    def op(self) -> None:
        timed(self.environment, "baseline op", lambda: self.http.request(
            "POST", "/op", self.BODY, {"Content-Type": "application/json"}), (200,))
