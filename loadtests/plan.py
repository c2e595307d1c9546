"""The plan of one load run, written by the runner and read by every Locust process: the servers, who
is who (a token for every screen, tablet, kiosk and window clerk, as a real deployment has), and the
rates each kind of user keeps. Tokens are made in one transaction, straight into the run's database."""
from __future__ import annotations

import json
import math
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from queue_server.record.demo_data import QUEUES
from queue_server.record.people import token_hash

from .city import remote_window_of, staff_of
from .profiles import CLERK_OPS_PER_VISIT, DISPLAYS_PER_CENTER, Profile

WINDOW_ROUND_S = 10.0   # a clerk comes back to each window it works within this, at every profile


@dataclass(frozen=True)
class Device:
    kind: str                 # display | screen | tablet
    center: str
    window: str | None        # None for a hall display
    point: str | None         # the service point a screen or tablet stands at, if not in the center
    token: str

    @property
    def path(self) -> str:
        if self.window is None:
            return f"/ws/centers/{self.center}/display"
        return f"/ws/centers/{self.center}/windows/{self.window}/{self.kind}"


@dataclass
class Plan:
    profile: str
    servers: list[str]
    out_dir: str
    workers: int
    centers: list[dict[str, Any]]            # {code, points: [code, ...]}
    devices: list[Device]
    clerks: list[tuple[str, str, str]]       # (center, window, staff token)
    kiosk_tokens: dict[str, str]
    matters: dict[str, list[str]]            # comprehensive | quick | remote -> matter codes
    rates: dict[str, float]                  # per user of each kind, operations a second
    counts: dict[str, int]                   # users of each kind
    slots: dict[str, str] = field(default_factory=dict)  # redis_url, key: where users draw their index
    sms: dict[str, str] = field(default_factory=dict)   # public_base_url, auth_token, standin_url
    socket_servers: list[str] = field(default_factory=list)   # where screens connect: the sockets tier, else servers
    _live_of: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    def live_server(self, center: str) -> str:
        """Where a device of ``center`` opens its socket: every device of a center on one server, as
        the proxy sends them (deploy/nginx-tiers.conf), so each sockets process reads only its own
        centers' streams; the centers dealt out largest first to the server holding the fewest
        devices so far, so each process holds about its share of the sockets."""
        if self._live_of is None:
            servers = self.socket_servers or self.servers
            per_center: dict[str, int] = {}
            for d in self.devices:
                per_center[d.center] = per_center.get(d.center, 0) + 1
            held = dict.fromkeys(servers, 0)
            self._live_of = {}
            for code, n in sorted(per_center.items(), key=lambda cn: (-cn[1], cn[0])):
                server = min(servers, key=held.__getitem__)
                self._live_of[code] = server
                held[server] += n
        return self._live_of[center]

    def write(self, path: Path) -> None:
        data = asdict(self)
        del data["_live_of"]
        data["devices"] = [[d.kind, d.center, d.window, d.point, d.token] for d in self.devices]
        path.write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> "Plan":
        data = json.loads(path.read_text(encoding="utf-8"))
        data["devices"] = [Device(*d) for d in data["devices"]]
        data["clerks"] = [tuple(c) for c in data["clerks"]]
        return cls(**data)


def _token() -> str:
    return f"qs_{secrets.token_urlsafe(24)}"


def people(catalog: dict[str, list[dict[str, Any]]]) -> tuple[list[Device], list[tuple[str, str, str]], dict[str, str], list[tuple]]:
    """Every device, window clerk and kiosk of the catalog with a fresh token, and the token rows."""
    rows: list[tuple] = []
    devices: list[Device] = []
    clerks: list[tuple[str, str, str]] = []
    kiosks: dict[str, str] = {}

    def device(kind: str, center: str, window: str | None, point: str | None) -> None:
        token = _token()
        devices.append(Device(kind, center, window, point, token))
        rows.append((token_hash(token), "device", center, window, None, kind, f"load {kind} {point or window or center}"))

    windows: dict[str, list[str]] = {}
    for w in catalog["windows"]:
        windows.setdefault(w["center"], []).append(w["code"])
    for c in catalog["centers"]:
        code = c["code"]
        for n in range(1, DISPLAYS_PER_CENTER + 1):
            device("display", code, None, None)
        for w in windows[code]:
            device("screen", code, w, None)
            device("tablet", code, w, None)
            token, staff = _token(), staff_of(code, w)
            clerks.append((code, w, token))
            rows.append((token_hash(token), "staff", code, w, staff, None, f"load clerk {staff}"))
        kiosks[code] = _token()
        rows.append((token_hash(kiosks[code]), "device", code, None, None, "kiosk", "load kiosk"))
    for p in catalog["service_points"]:
        window = remote_window_of(int(p["code"][2:]))
        device("screen", p["center"], window, p["code"])
        device("tablet", p["center"], window, p["code"])
    return devices, clerks, kiosks, rows


async def save_tokens(database_url: str, rows: list[tuple]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO tokens (token_hash, role, center, window_code, staff_id, device_kind, label)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)", rows)
    finally:
        await conn.close()


def matter_lines(catalog: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """Matters by the line they join at a kiosk, and those a service point may take (remote-eligible)."""
    quick = set(next(q for q in QUEUES if q["code"] == "quick")["matters"])
    ms = catalog["matters"]
    return {"comprehensive": [m["code"] for m in ms if m["code"] not in quick], "quick": sorted(quick),
            "remote": [m["code"] for m in ms if m["remote_eligible"]]}


def counts(profile: Profile) -> dict[str, int]:
    return {"capacity": profile.capacity_users, "screens": profile.screens, "kiosks": profile.kiosks,
            "clerks": profile.clerks, "residents": profile.residents, "sms": profile.sms_users}


def rates(profile: Profile) -> dict[str, float]:
    """Each user's pace so that together they make the profile's operations a second."""
    v = profile.visits_per_s
    return {"kiosk": v / profile.kiosks, "clerk": v * CLERK_OPS_PER_VISIT / profile.clerks,
            "resident": profile.resident_lookups_per_s}


def clerk_windows(clerks: list[tuple[str, str, str]], index: int, users: int, rate: float) -> list[tuple[str, str, str]]:
    """The windows clerk user ``index`` of ``users`` works in turn at ``rate`` actions a second: as
    many as it comes back to within ``WINDOW_ROUND_S``, taken evenly from the city's (so from as many
    centers as there are windows worked) and dealt out among the users. A visit is three turns of its
    window: city-now's 20 clerks at ~1 action a second over 287 windows each came back to a window
    every 5 minutes, so its 30-s window saw only the first round's call-nexts — no start, finish or
    rating, 25.6 operations a second of 30. The other profiles' clerks come round in 2–9 s and work
    every window."""
    worked = clerks[::math.ceil(len(clerks) / (users * max(1, int(rate * WINDOW_ROUND_S))))]
    return worked[index % users::users]
