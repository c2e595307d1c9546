"""A bounded load for the fault tests, and what must hold after it.

Kiosks (one per center) issue tickets, clerks (two windows per center) call, start and finish them,
and a hall display per center follows its stream, all with their own device and staff tokens (so the
token cache is on the path), spread over the server instances given. Like the real devices they
retry what was not acknowledged: a 503 after its Retry-After, a lost connection on another
instance, an issue always under its Idempotency-Key. The ledger keeps what each was told — only an
acknowledged answer counts — and the checks compare it with Redis, the stream and PostgreSQL."""
from __future__ import annotations

import asyncio
import collections
import itertools
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from tests.realtime.live import ws_url
from tests.support import AUTH

CENTERS = ("jingansi", "caojiadu", "jiangninglu")
WINDOWS = ("w1", "w2")
MATTER = "hrss-001"
ISSUE_PAUSE_S = 0.15      # a kiosk's pace between residents
IDLE_PAUSE_S = 0.2        # a clerk's pause when nobody waits
GIVE_UP_S = 90.0          # an unacknowledged request is retried this long (generous: a restart in between)


@dataclass
class Ledger:
    """What the clients were told, and everything the server answered."""
    issued: dict[str, Any] = field(default_factory=dict)                 # ticket id -> its issued_at, acknowledged
    reissued: list[str] = field(default_factory=list)                    # ids (center, day, number) acknowledged again as new
    called: list[tuple[str, str]] = field(default_factory=list)          # (ticket id, "center/window"), acknowledged
    finished: set[str] = field(default_factory=set)                      # acknowledged finished
    disrupted: list[str] = field(default_factory=list)                   # a clerk's ticket not as it left it
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    bad: list[str] = field(default_factory=list)                         # 5xx other than 503 with Retry-After
    unanswered: int = 0                                                  # connections refused or cut (an instance down)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: collections.defaultdict(list))
    reconnects: int = 0

    def acknowledge(self, ticket: dict[str, Any]) -> None:
        """An issue answered: the same ticket again (its key's replay) or a new one. A new ticket under
        an id already acknowledged is its number handed out a second time (ids carry the number)."""
        first = self.issued.setdefault(ticket["id"], ticket["issued_at"])
        if first != ticket["issued_at"]:
            self.reissued.append(ticket["id"])

    def summary(self) -> dict[str, Any]:
        return {"issued": len(self.issued), "called": len(self.called), "finished": len(self.finished),
                "disrupted": len(self.disrupted), "reissued": len(set(self.reissued)),
                "statuses": dict(sorted(self.statuses.items())), "unanswered": self.unanswered,
                "display_messages": sum(len(v) for v in self.events.values()), "display_reconnects": self.reconnects}


class Instances:
    """The server instances' base URLs: a client that cannot reach one moves to the next."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls

    def pick(self, n: int) -> str:
        return self.urls[n % len(self.urls)]


class Device:
    """One client with its token, sticking to an instance until it cannot reach it."""

    def __init__(self, instances: Instances, token: str, slot: int, ledger: Ledger) -> None:
        self.instances, self.token, self.slot, self.ledger = instances, token, slot, ledger
        self.http = httpx.AsyncClient(timeout=20, headers={"Authorization": f"Bearer {token}"})

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None, ok: tuple[int, ...] = (200, 201, 204, 409)) -> httpx.Response:
        """Until an answer in ``ok``: after a 503 as long as Retry-After says, after a lost connection
        on another instance. Anything else unexpected fails the test."""
        deadline = time.monotonic() + GIVE_UP_S
        last = "no answer"
        while True:
            assert time.monotonic() < deadline, f"{method} {path} was never answered: {last}"
            url = self.instances.pick(self.slot) + path
            try:
                r = await self.http.request(method, url, json=body, headers=headers)
            except httpx.TransportError:
                self.ledger.unanswered += 1
                self.slot += 1
                await asyncio.sleep(0.1)
                continue
            self.ledger.statuses[r.status_code] += 1
            last = f"{r.status_code} {r.text[:300]}"
            if r.status_code >= 500:
                if r.status_code != 503 or "retry-after" not in r.headers:
                    self.ledger.bad.append(f"{method} {path} -> {r.status_code} {r.text[:200]}")
                await asyncio.sleep(min(float(r.headers.get("retry-after", 1)), 2.0) * random.uniform(0.5, 1.0))
                continue
            assert r.status_code in ok, f"{method} {path} -> {r.status_code} {r.text}"
            return r

    async def aclose(self) -> None:
        await self.http.aclose()


async def kiosk(device: Device, center: str, stop: asyncio.Event) -> None:
    """Issues one ticket after another; each under one Idempotency-Key until it is acknowledged."""
    ledger = device.ledger
    while not stop.is_set():
        key = uuid.uuid4().hex
        r = await device.request("POST", f"/api/v1/centers/{center}/tickets", {"matter": MATTER},
                                 headers={"Idempotency-Key": key}, ok=(200, 201))
        ledger.acknowledge(r.json())
        await asyncio.sleep(ISSUE_PAUSE_S)


async def clerk(device: Device, center: str, window: str, stop: asyncio.Event) -> None:
    """Calls, starts and finishes. A call whose answer was lost leaves its ticket at the window
    (call-next then says window_busy, naming it): that ticket is served, but was never acknowledged."""
    ledger = device.ledger
    while not stop.is_set():
        r = await device.request("POST", f"/api/v1/centers/{center}/windows/{window}/call-next", {})
        if r.status_code == 204:
            await asyncio.sleep(IDLE_PAUSE_S)
            continue
        if r.status_code == 409:
            problem = r.json()
            assert problem.get("code") == "window_busy", r.text
            tid = problem["current_ticket"]
        else:
            tid = r.json()["ticket"]["id"]
            ledger.called.append((tid, f"{center}/{window}"))
        for action, done in (("start", ("serving", "finished")), ("finish", ("finished",))):
            r = await device.request("POST", f"/api/v1/tickets/{tid}/{action}", {}, ok=(200, 403, 404, 409))
            if r.status_code == 200:
                continue
            refused = f"{r.status_code} {r.json().get('code') or r.json().get('title')}"
            # an earlier attempt may have been done without its answer reaching us; else Redis lost it
            r = await device.request("GET", f"/api/v1/tickets/{tid}", ok=(200, 404))
            status = r.json()["status"] if r.status_code == 200 else "gone"
            if status not in done:
                ledger.disrupted.append(f"{tid} {status} when {action} was refused: {refused}")
                break
        else:
            ledger.finished.add(tid)


async def display(instances: Instances, token: str, center: str, slot: int, ledger: Ledger, stop: asyncio.Event) -> None:
    """A hall display: snapshot, then events; when its socket goes it reconnects (another instance if
    need be) with its cursor and epoch. Every message is kept for the checks."""
    got = ledger.events[center]
    cursor = epoch = None
    while not stop.is_set():
        url = ws_url(instances.pick(slot), f"/ws/centers/{center}/display", token=token, cursor=cursor, epoch=epoch)
        try:
            async with connect(url, compression=None, max_size=2**24, open_timeout=10, ping_interval=None) as ws:
                while True:
                    msg = orjson.loads(await ws.recv())
                    if msg.get("type") == "ping":
                        continue
                    got.append(msg)
                    if msg.get("type") in ("snapshot", "resume"):
                        epoch = msg["epoch"]
                        cursor = msg["cursor"]
                    elif "id" in msg:
                        cursor = msg["id"]
        except (ConnectionClosed, InvalidHandshake, InvalidStatus, OSError, asyncio.TimeoutError):
            pass
        if stop.is_set():
            return
        ledger.reconnects += 1
        slot += 1
        await asyncio.sleep(0.2)


@dataclass
class Load:
    """The bounded load over ``instances``; ``run`` drives it and calls ``fault`` in its middle."""
    settings: Settings
    instances: Instances
    ledger: Ledger = field(default_factory=Ledger)

    async def tokens(self) -> dict[str, str]:
        """A kiosk, a display and a clerk per window at each center, made through the admin API."""
        out: dict[str, str] = {}
        async with httpx.AsyncClient(base_url=self.instances.pick(0), headers=AUTH, timeout=30) as admin:
            async def make(name: str, body: dict[str, Any]) -> None:
                r = await admin.post("/api/v1/tokens", json=body)
                assert r.status_code == 201, r.text
                out[name] = r.json()["token"]

            for c in CENTERS:
                await make(f"{c}/kiosk", {"role": "device", "center": c, "device_kind": "kiosk", "label": "kiosk"})
                await make(f"{c}/display", {"role": "device", "center": c, "device_kind": "display", "label": "hall"})
                for n, w in enumerate(WINDOWS, 1):
                    await make(f"{c}/{w}", {"role": "staff", "center": c, "window": w, "staff_id": f"{c}-s{n:02d}"})
        return out

    async def run(self, seconds: float, fault_at: float, fault: Any) -> None:
        """Load for ``seconds``, with ``fault()`` awaited at ``fault_at``; then the kiosks and clerks
        finish what they were doing and the displays receive the last event."""
        tokens = await self.tokens()
        stop, stop_screens = asyncio.Event(), asyncio.Event()
        slots = itertools.count()
        devices: list[Device] = []
        workers: list[asyncio.Task] = []
        screens: list[asyncio.Task] = []
        for n, c in enumerate(CENTERS):
            for w in WINDOWS:
                d = Device(self.instances, tokens[f"{c}/{w}"], next(slots), self.ledger)
                r = await d.request("POST", f"/api/v1/centers/{c}/windows/{w}/open", {}, ok=(200,))
                assert r.json()["state"] == "open"
                devices.append(d)
                workers.append(asyncio.create_task(clerk(d, c, w, stop)))
            k = Device(self.instances, tokens[f"{c}/kiosk"], next(slots), self.ledger)
            devices.append(k)
            workers.append(asyncio.create_task(kiosk(k, c, stop)))
            screens.append(asyncio.create_task(display(self.instances, tokens[f"{c}/display"], c, n,
                                                       self.ledger, stop_screens)))   # one per instance, in turn
        started = time.monotonic()
        try:
            await asyncio.sleep(fault_at)
            await fault()
            await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))
            stop.set()
            await asyncio.wait_for(asyncio.gather(*workers), GIVE_UP_S * 2)
            await self.displays_caught_up()
        finally:
            stop.set()
            stop_screens.set()
            for t in workers + screens:
                t.cancel()
            await asyncio.gather(*workers, *screens, return_exceptions=True)
            for d in devices:
                await d.aclose()

    async def burst(self, center: str, n: int) -> None:
        """``n`` tickets issued at once and acknowledged: right after it, the record has most likely not
        written them yet (the persister gathers events for a moment), which is what a fault should meet."""
        async with httpx.AsyncClient(base_url=self.instances.pick(0), headers=AUTH, timeout=30) as admin:
            answers = await asyncio.gather(*(admin.post(f"/api/v1/centers/{center}/tickets", json={"matter": MATTER})
                                             for _ in range(n)))
        for r in answers:
            self.ledger.statuses[r.status_code] += 1
            assert r.status_code == 201, r.text
            self.ledger.acknowledge(r.json())

    async def displays_caught_up(self, timeout: float = 60.0) -> None:
        """Wait until every display has received its stream's newest entry."""
        r = redis_client(self.settings.redis_url)
        try:
            deadline = time.monotonic() + timeout
            for c in CENTERS:
                tail = await r.xrevrange(Keys(self.settings.key_prefix).events(c), count=1)
                newest = tail[0][0].decode()
                while not any(m.get("id") == newest or m.get("cursor") == newest for m in self.ledger.events[c][-50:]):
                    assert time.monotonic() < deadline, f"the {c} display never got {newest}"
                    await asyncio.sleep(0.1)
        finally:
            await r.aclose()


def key(stream_id: str) -> tuple[int, int]:
    ms, seq = stream_id.split("-")
    return int(ms), int(seq)


async def check_displays(settings: Settings, ledger: Ledger, resets_allowed: bool = False) -> dict[str, int]:
    """Screens resume without a silent gap: from its last snapshot on (its first, or one flagged
    reset after Redis lost its data), what each display received across all its reconnects is the
    stream's own XRANGE from that snapshot's cursor — every id once, in order, none missing; before
    a reset, nothing twice or out of order either. Returns the resets per center."""
    r = redis_client(settings.redis_url)
    resets: dict[str, int] = {}
    try:
        for c in CENTERS:
            messages = ledger.events[c]
            starts = [i for i, m in enumerate(messages) if m["type"] == "snapshot"]
            resets[c] = sum(1 for i in starts if messages[i]["reset"])
            assert resets_allowed or resets[c] == 0, f"{c}: a display was reset although no data was lost"
            for begin, end in zip(starts, starts[1:] + [len(messages)]):
                ids = [m["id"] for m in messages[begin + 1:end] if "id" in m]
                assert ids == sorted(set(ids), key=key), f"{c}: a display got an event twice or out of order"
            entries = await r.xrange(Keys(settings.key_prefix).events(c), min=f"({messages[starts[-1]]['cursor']}", max="+")
            received = [m["id"] for m in messages[starts[-1] + 1:] if "id" in m]
            assert received == [sid.decode() for sid, _ in entries], f"{c}: the display's events differ from the stream"
    finally:
        await r.aclose()
    return resets


async def record_caught_up(settings: Settings, timeout: float = 120.0) -> None:
    """Wait until PostgreSQL holds every event every stream holds (once each: the primary key)."""
    r = redis_client(settings.redis_url)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        keys = Keys(settings.key_prefix)
        deadline = time.monotonic() + timeout
        for c in CENTERS:
            stream = [sid.decode() for sid, _ in await r.xrange(keys.events(c))]
            while True:
                rows = await pool.fetch("SELECT stream_id FROM events WHERE center = $1 AND stream_id = ANY($2::text[])",
                                        c, stream)
                if len(rows) == len(stream):
                    break
                assert time.monotonic() < deadline, f"{c}: the record holds {len(rows)} of {len(stream)} events"
                await asyncio.sleep(0.2)
    finally:
        await pool.close()
        await r.aclose()


async def check_ledger(settings: Settings, ledger: Ledger, unrecorded: set[str] | None = None) -> dict[str, Any]:
    """No number twice, in what the clients were told and in the record; nothing acknowledged lost
    (the record holds each acknowledged ticket, the same one: its issued_at)
    and no ticket called twice — or, when Redis lost its data (``unrecorded``: the acknowledged
    tickets the record did not hold yet when it did), the lost counted and bounded: only those.
    Returns the figures."""
    assert not ledger.bad, ledger.bad[:5]
    assert not ledger.reissued, f"numbers handed out twice in the day: {sorted(set(ledger.reissued))[:10]}"
    called = collections.Counter(t for t, _ in ledger.called)
    called_twice = sorted(t for t, n in called.items() if n > 1)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        rows = {r["id"]: r for r in await pool.fetch(
            "SELECT id, status, data->'issued_at' AS issued_at FROM tickets WHERE id = ANY($1::text[])", list(ledger.issued))}
        numbers = await pool.fetchval("SELECT count(*) FROM (SELECT center, day, number FROM tickets"
                                      " GROUP BY center, day, number HAVING count(*) > 1) d")
        assert numbers == 0, f"{numbers} numbers given twice in the day in the record"
        lost = {t for t, at in ledger.issued.items() if t not in rows or orjson.loads(rows[t]["issued_at"]) != at}
        unfinished = {t for t in ledger.finished if t in rows and rows[t]["status"] != "finished"}
        recorded_twice = await pool.fetchval("SELECT count(*) FROM (SELECT ticket_id FROM events WHERE type = 'ticket.called'"
                                             " GROUP BY ticket_id HAVING count(*) > 1) d")
        events = await pool.fetchval("SELECT count(*) FROM events")
    finally:
        await pool.close()
    if unrecorded is None:
        assert not lost, f"{len(lost)} acknowledged tickets are not in the record"
        assert not unfinished, f"{len(unfinished)} acknowledged finishes are not in the record"
        assert not called_twice and recorded_twice == 0, "a ticket was called twice"
        assert not ledger.disrupted, ledger.disrupted[:5]
    else:
        assert lost <= unrecorded, f"{len(lost - unrecorded)} lost tickets had been recorded before Redis lost its data"
    return {**ledger.summary(), "recorded_events": events, "lost": len(lost), "unrecorded_at_fault":
            len(unrecorded or ()), "acknowledged_called_twice": len(called_twice), "recorded_called_twice": recorded_twice}
