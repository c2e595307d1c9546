"""Pushing the live figures to the dashboards: after a change (and at least every few seconds, for
figures that move with the clock) the figures are recomputed, compared with what was last sent, and
only the parts that changed go out — at most one update per interval, so a busy morning costs a
dashboard two small messages a second, not one per event. Each socket drains its own bounded queue."""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson
from starlette.websockets import WebSocket

from ..clock import Clock
from .config import OpsConfig
from .live import LiveFigures


class OpsSocket:
    """One ``/ws/ops`` connection: its scope (a center, or None for the district) and its queue."""

    def __init__(self, ws: WebSocket, scope: str | None, queue_max: int) -> None:
        self.ws = ws
        self.scope = scope
        self.queue: asyncio.Queue[str] = asyncio.Queue(queue_max)
        self.last_sent = time.monotonic()
        self.dropped = False
        self.writer: asyncio.Task | None = None

    def offer(self, text: str) -> bool:
        try:
            self.queue.put_nowait(text)
            return True
        except asyncio.QueueFull:
            return False

    def start(self) -> None:
        self.writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while True:
            text = await self.queue.get()
            await self.ws.send_text(text)
            self.last_sent = time.monotonic()

    async def stop(self) -> None:
        if self.writer is not None:
            self.writer.cancel()
            with contextlib.suppress(BaseException):
                await self.writer


def _diff(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    if old is None:
        return new
    return {k: v for k, v in new.items() if old.get(k) != v}


class Broadcaster:
    def __init__(self, figures: LiveFigures, clock: Clock, config: OpsConfig) -> None:
        self.figures = figures
        self.clock = clock
        self.config = config
        self.sockets: set[OpsSocket] = set()
        self.sent: dict[str, Any] = {"centers": {}, "district": None}
        self.wake = asyncio.Event()
        self.updates = 0

    def changed(self) -> None:
        self.wake.set()

    def add(self, sock: OpsSocket) -> None:
        """Queue the socket's snapshot — the figures as last sent, so the updates that follow apply to
        exactly what it holds — and include it in every later update."""
        if not self.sent["centers"]:
            self.compute()
        centers = self.sent["centers"]
        scoped = {sock.scope: centers[sock.scope]} if sock.scope else centers
        sock.offer(orjson.dumps({
            "type": "snapshot", "scope": "center" if sock.scope else "district", "center": sock.scope,
            "now": self.clock.now_ms(), "centers": scoped, "district": None if sock.scope else self.sent["district"],
        }).decode())
        self.sockets.add(sock)

    def remove(self, sock: OpsSocket) -> None:
        self.sockets.discard(sock)

    def compute(self) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """Recompute the figures; returns what changed (per center, and the district's) and keeps them as sent."""
        fresh = self.figures.all(self.clock.now_ms())
        changed = {code: d for code, figs in fresh["centers"].items()
                   if (d := _diff(self.sent["centers"].get(code), figs))}
        district = _diff(self.sent["district"], fresh["district"])
        self.sent = fresh
        return changed, district

    def publish(self) -> int:
        """Send what changed to every socket whose scope covers it; returns the number of messages.
        With no dashboard watching nothing is computed (the next one to come gets fresh figures)."""
        if not self.sockets:
            self.sent = {"centers": {}, "district": None}
            return 0
        changed, district = self.compute()
        if not changed and not district:
            return 0
        now = self.clock.now_ms()
        sent = 0
        whole = orjson.dumps({"type": "update", "now": now, "centers": changed, "district": district}).decode()
        per_center: dict[str, str] = {}
        for sock in list(self.sockets):
            if sock.scope is None:
                text = whole
            elif sock.scope in changed:
                text = per_center.get(sock.scope) or per_center.setdefault(sock.scope, orjson.dumps(
                    {"type": "update", "now": now, "centers": {sock.scope: changed[sock.scope]}, "district": None}).decode())
            else:
                continue
            if sock.offer(text):
                sent += 1
            else:
                self.drop(sock)
        self.updates += 1
        return sent

    def drop(self, sock: OpsSocket, code: int = 1013, reason: str = "too slow") -> None:
        """A dashboard that does not keep up is closed; it reconnects and gets a fresh snapshot."""
        self.sockets.discard(sock)
        sock.dropped = True
        asyncio.get_running_loop().create_task(_close(sock.ws, code, reason))

    def close_token(self, digest: str, reason: str) -> int:
        """Close (4401) the dashboards opened with the token of hash ``digest``: it was revoked (devices/)."""
        found = [s for s in self.sockets if getattr(s.ws.state, "token_hash", None) == digest]
        for sock in found:
            self.drop(sock, 4401, reason)
        return len(found)

    def ping(self) -> None:
        now = time.monotonic()
        text = orjson.dumps({"type": "ping", "now": self.clock.now_ms()}).decode()
        for sock in list(self.sockets):
            if now - sock.last_sent >= self.config.ping_s and sock.queue.empty():
                sock.last_sent = now
                if not sock.offer(text):
                    self.drop(sock)

    async def run(self, stop: asyncio.Event) -> None:
        cfg = self.config
        tick = min(cfg.refresh_s, cfg.ping_s / 3)
        last_sent = last_computed = 0.0
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), tick)
            now = time.monotonic()
            if self.wake.is_set() or now - last_computed >= cfg.refresh_s:
                pause = last_sent + cfg.update_interval_s - now
                if pause > 0:
                    await asyncio.sleep(pause)
                self.wake.clear()
                self.publish()
                last_sent = last_computed = time.monotonic()
            self.ping()


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(code, reason), 2.0)
