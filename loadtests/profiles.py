"""The load profiles: how much of the city, how many queue operations a second, and the service levels
each must meet. The load model and its arithmetic are in README.md; the numbers live here once."""
from __future__ import annotations

from dataclasses import dataclass, field

from loadtests.city import BRANCHES_IN_CITY, CENTERS_IN_CITY, ONSITE_WINDOWS, REMOTE_WINDOWS, CitySize

DISPLAYS_PER_CENTER = 5                      # hall call displays: every event of the center
WINDOWS_PER_CENTER = ONSITE_WINDOWS + REMOTE_WINDOWS
DEVICES_PER_CENTER = DISPLAYS_PER_CENTER + 2 * WINDOWS_PER_CENTER   # + a screen and a tablet per window = 45
DEVICES_PER_POINT = 2                        # the dual-screen kiosk: remote window screen + review tablet

# What one resident's visit costs in queue operations (README, "The load model").
RECALL, NO_SHOW, TRANSFER = 0.05, 0.05, 0.02
TABLET_RATES, PHONE_SHARE, SMS_REPLIES = 0.6, 0.5, 0.5
CLERK_OPS_PER_VISIT = 1 + RECALL + 1 + (1 - NO_SHOW)            # call, recall, start | no-show, finish | transfer
REVIEW_OPS_PER_VISIT = (1 - NO_SHOW) * (TABLET_RATES + (1 - TABLET_RATES) * PHONE_SHARE * SMS_REPLIES)
OPS_PER_VISIT = 1 + CLERK_OPS_PER_VISIT + REVIEW_OPS_PER_VISIT   # + the issue: ~4.66


def did_nothing(operation: str) -> str:
    """The name an answer that did nothing (a call-next with nobody waiting: 204) is counted under,
    apart from ``operation``: only operations that did something count towards ``ops_per_s``."""
    return f"{operation} (empty)"


@dataclass(frozen=True)
class Targets:
    """Service levels; None means "reported, not judged" (the smoke run in CI judges only errors)."""
    ops_p99_ms: float | None = 50.0
    call_p99_ms: float | None = 100.0
    min_rate_share: float | None = 0.9          # achieved queue ops/s over the profile's target
    min_baseline_ratio: float | None = 0.5      # capacity ops/s over the bare baseline's
    max_errors: int = 0
    min_held_share: float = 0.99                # sockets held at the end over the sockets planned


@dataclass(frozen=True)
class Profile:
    name: str
    size: CitySize
    ops_per_s: float
    measure_s: int                   # the load phase after every user is up
    servers: int = 1                 # server processes, each on its own port (the fd limit is per process)
    tiers: tuple[int, ...] | None = None   # instead: (http, sockets[, background]) processes of QUEUE_TIER (docs/scale.md)
    workers: int = 1                 # Locust worker processes
    spawn_rate: float = 500.0        # users started per second
    capacity_s: int = 10             # each closed-loop phase (baseline, ours) and the paced baseline
    capacity_rounds: int = 2         # ours then the paced baseline, in turn, pooled (summary.rounds_pooled)
    capacity_users: int = 32         # closed-loop users in each of them
    kiosks: int = 10
    clerks: int = 40
    residents: int = 10
    resident_lookups_per_s: float = 0.2   # status page reads per resident
    sms_users: int = 1
    prefill_per_window: int = 3      # tickets waiting at each window's lines before the load starts
    targets: Targets = field(default_factory=Targets)

    @property
    def screens(self) -> int:
        return self.size.centers * DEVICES_PER_CENTER + self.size.points * DEVICES_PER_POINT

    @property
    def visits_per_s(self) -> float:
        return self.ops_per_s / OPS_PER_VISIT

    @property
    def windows(self) -> int:
        return self.size.centers * WINDOWS_PER_CENTER


CITY = CitySize(CENTERS_IN_CITY + BRANCHES_IN_CITY, 6_077)

PROFILES: dict[str, Profile] = {p.name: p for p in [
    # CI: a few centers, every kind of user (25 s: the SMS prompts of the run go out 15 s after a finish),
    # judged on errors and on holding its sockets.
    Profile("smoke", CitySize(3, 12), ops_per_s=40, measure_s=25, capacity_s=4, capacity_users=16, kiosks=2,
            clerks=4, residents=2, spawn_rate=200,
            targets=Targets(ops_p99_ms=None, call_p99_ms=None, min_rate_share=None, min_baseline_ratio=None)),
    # Jing'an: 14 centers and its 264 neighborhood committees, at thirty times the city's share.
    Profile("district", CitySize(14, 264), ops_per_s=100, measure_s=30, kiosks=4, clerks=20),
    # The whole city connected at today's morning peak (~30 operations a second).
    Profile("city-now", CITY, ops_per_s=30, measure_s=30, servers=2, workers=2, kiosks=4, clerks=20, residents=20,
            spawn_rate=400),
    # Steps to the target: a quarter and a half of the city, at the target's rate per screen.
    Profile("quarter", CitySize.fraction(0.25), ops_per_s=250, measure_s=30, kiosks=6, clerks=50, residents=20,
            spawn_rate=300),
    # From half the city up, the servers run as tiers (docs/scale.md): the sockets apart from the API, so
    # an operation never waits behind a fan-out burst and only the sockets processes read the streams
    # for the screens. The city's 25,069 sockets take two sockets processes (20,000 files a process).
    Profile("half", CitySize.fraction(0.5), ops_per_s=500, measure_s=30, servers=1, tiers=(1, 1), workers=2,
            kiosks=10, clerks=100, residents=40, spawn_rate=300),
    # The target: the whole city, thirty times its morning peak; the http tier's background work in a
    # process of its own (the api tier answers), so no persister batch takes a turn of a request's loop.
    Profile("city", CITY, ops_per_s=1000, measure_s=60, servers=2, tiers=(2, 2, 1), workers=2, kiosks=20, clerks=200,
            residents=60, sms_users=2, spawn_rate=400),
]}
ORDER = list(PROFILES)
