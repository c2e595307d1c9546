"""The resident's status page: after events of the ticket's center, the ticket's position again,
sent only when it changed. Many events in a burst cost one look-up: they only mark it stale."""
from __future__ import annotations

from typing import Any

import orjson
from starlette.websockets import WebSocket

from ..api.tickets import position_body
from ..domain.tickets import FINAL
from ..engine.queue_engine import EngineError, QueueEngine
from .events import LiveEvent
from .sockets import SocketSubscriber


def position_message(engine: QueueEngine, center: str, position: Any) -> dict[str, Any]:
    """``{"type": "position", ...ticket, ahead, estimated_wait_s}`` plus the window's names once called."""
    body = {"type": "position", **position_body(position)}
    window = engine.catalog.centers[center].windows.get(body.get("window") or "")
    if window is not None:
        body["window_name_zh"], body["window_name_en"] = window.name_zh, window.name_en
    return body


class TicketWatcher(SocketSubscriber):
    """A socket that follows one ticket: events only mark its position stale."""

    __slots__ = ("ticket_id", "engine", "stale", "last_body", "final")

    def __init__(self, ws: WebSocket, engine: QueueEngine, center: str, ticket_id: str) -> None:
        super().__init__(ws, center, None, queue_max=1)
        self.engine = engine
        self.ticket_id = ticket_id
        self.stale = False
        self.last_body: dict[str, Any] | None = None
        self.final = False

    def offer(self, event: LiveEvent) -> bool:
        if not self.final:
            self.stale = True
            self._backlog()
        return True

    async def send_position(self) -> None:
        try:
            position = await self.engine.ticket(self.ticket_id)
        except EngineError as exc:
            self.final = True
            if exc.code == "not_found":
                self.kill(4404, "ticket not found", hard=False)
            else:   # the record is away and Redis no longer holds the ticket: try again later
                self.kill(1013, "temporarily unavailable", hard=False)
            return
        body = position_message(self.engine, self.center, position)
        self.final = body.get("status") in FINAL
        if body != self.last_body:
            self.last_body = body
            await self.send(orjson.dumps(body).decode())

    def _waiting(self) -> bool:
        return self.stale or self.ping_due is not None

    async def _drain(self) -> None:
        while True:
            if self.stale:
                self.stale = False
                await self.send_position()
            elif self.ping_due is not None:
                (text, frame), self.ping_due = self.ping_due, None
                await self._send_frame(text, frame)
            else:
                self.drain = None
                return
