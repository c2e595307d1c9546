"""Locust entry point of ``loadtests/run``: the users of every client of the server, sized and paced
from the run's plan (``LOAD_PLAN``). The runner picks the classes of each phase on the command line:
``Baseline`` and ``Capacity`` (closed loop), then the load as two runs side by side, ``Screen`` and
``Kiosk Clerk Resident Sms`` (``LOAD_PART=desks``, which follows the screens' run's window)."""
from __future__ import annotations

import gc
import json
import os
import time
from pathlib import Path
from typing import Any

import gevent
from locust import User, between, constant, constant_throughput, events
from locust.env import Environment
from locust.runners import MasterRunner

from loadtests.users.common import OPEN_FOR_BUSINESS, PART, PHASE, STEM, TALLY, plan
from loadtests.users.desk import BaselineUser, CapacityUser, ClerkUser, KioskUser, ResidentUser
from loadtests.users.keepalive import keepalive
from loadtests.users.screens import ScreenUser
from loadtests.users.sms import SmsUser



def concrete(name: str, base: type[User], count: int, wait: Any) -> type[User]:
    return type(name, (base,), {"fixed_count": count, "wait_time": wait, "abstract": False,
                                "__module__": __name__})


SETTLE_S = float(os.environ.get("LOAD_SETTLE_S", "3"))
MEASURE_S = float(os.environ.get("LOAD_MEASURE_S", "10"))
_p = plan()
_n, _r = _p.counts, _p.rates
PACE_PER_S = float(os.environ.get("LOAD_PACE_PER_S") or 0)   # the paced baseline's requests a second, all users
Baseline = concrete("Baseline", BaselineUser, _n["capacity"],
                    constant_throughput(PACE_PER_S / _n["capacity"]) if PACE_PER_S else constant(0))
Capacity = concrete("Capacity", CapacityUser, _n["capacity"], constant(0))
Screen = concrete("Screen", ScreenUser, _n["screens"], between(2.0, 10.0))   # back off after a drop, as pages do
Kiosk = concrete("Kiosk", KioskUser, _n["kiosks"], constant_throughput(_r["kiosk"]))
Clerk = concrete("Clerk", ClerkUser, _n["clerks"], constant_throughput(_r["clerk"]))
Resident = concrete("Resident", ResidentUser, _n["residents"], constant_throughput(_r["resident"]))
Sms = concrete("Sms", SmsUser, max(1, _n["sms"]), constant(1.0))


FOLLOWS = PART == "desks"     # the desks' run opens, measures and ends when the screens' run does


WINDOW = Path(_p.out_dir) / f"window-{PHASE}.json"


def _marks() -> dict[str, float]:
    return json.loads(WINDOW.read_text()) if WINDOW.exists() else {}


def _marker(what: str) -> None:
    """When the doors opened and the measured window began and ended: for the runner's CPU figures,
    and for the desks' run to follow."""
    part = WINDOW.with_suffix(".part")
    part.write_text(json.dumps({**_marks(), what: time.time()}))
    part.replace(WINDOW)   # whole or not at all: the desks' run reads it meanwhile


def _doors_open(environment: Environment, **_: Any) -> None:
    """The sockets are up: what is alive now lives for the run, so keep it out of the collector's
    sight (full collections over thousands of sockets paused this process ~300 ms, which the HTTP
    users then measured as server latency) — now, in the settling time: at the start of the window
    the collection delayed the first second's calls on 12,500 screens by up to 850 ms."""
    gc.collect()
    gc.freeze()
    OPEN_FOR_BUSINESS.set()


def _measure_begins(environment: Environment, **_: Any) -> None:
    environment.runner.stats.reset_all()
    TALLY.reset()


_master: list[MasterRunner] = []
_open: dict[str, int] = {}    # sockets open per worker, as they last said


def _report_sockets(environment: Environment) -> None:
    while True:
        gevent.sleep(1.0)
        environment.runner.send_message("sockets", TALLY.open)


@events.init.add_listener
def on_init(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        _master.append(environment.runner)
        environment.runner.register_message("sockets", lambda environment, msg, **_: _open.update({msg.node_id: msg.data}))
        return
    gevent.spawn(keepalive)
    gevent.spawn(_report_sockets, environment)
    environment.runner.register_message("measure", _measure_begins)
    environment.runner.register_message("open", _doors_open)


@events.spawning_complete.add_listener
def on_spawned(**_: Any) -> None:
    """Every user is started. Once (nearly) every socket is open, or after a bound, and then the
    settling time, the measured window begins: stats reset everywhere; the master ends the run
    when the window is over."""
    if not _master:
        return
    runner = _master[0]
    planned = _n["screens"] if "Screen" in runner.user_classes_by_name else 0

    def wait_for_sockets() -> None:
        """The screens come on before the doors open: kiosks and clerks start once they are up."""
        deadline = time.monotonic() + max(60.0, planned / 50)
        while sum(_open.values()) < 0.99 * planned and time.monotonic() < deadline:
            gevent.sleep(0.5)
        _marker("open")
        runner.send_message("open")
        gevent.sleep(SETTLE_S)
        begin()

    def follow() -> None:
        """The desks' run: open, begin and end at the screens' run's marks, read as they are made."""
        for mark, act in (("open", lambda: runner.send_message("open")), ("start", measure), ("end", runner.quit)):
            while mark not in _marks():
                gevent.sleep(0.05)
            act()

    def measure() -> None:
        runner.stats.reset_all()
        runner.send_message("measure")

    def begin() -> None:
        measure()
        _marker("start")
        gevent.spawn_later(MEASURE_S, end)

    def end() -> None:
        _marker("end")
        runner.quit()

    gevent.spawn(follow if FOLLOWS else wait_for_sockets)


@events.test_stopping.add_listener
def on_stopping(environment: Environment, **_: Any) -> None:
    TALLY.freeze()


@events.quitting.add_listener
def on_quitting(environment: Environment, **_: Any) -> None:
    """The master's stats with every worker's last report in (``--json-file`` would be overwritten
    by the workers' own, empty, copies)."""
    if isinstance(environment.runner, MasterRunner):
        (Path(_p.out_dir) / f"{STEM}.json").write_text(json.dumps(environment.runner.stats.serialize_stats()))


@events.test_stop.add_listener
def on_stop(environment: Environment, **_: Any) -> None:
    if not isinstance(environment.runner, MasterRunner):
        TALLY.dump(environment)
