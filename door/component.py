"""Door-to-door assistance as a component of the app: its API, and two supervised loops in every
instance — the announcer that puts case transitions on the centers' streams (once each), and the
sweep that raises the reminder of an approval gone past its expected date (once each)."""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from queue_server.api.endpoints import Doc
from queue_server.config import Settings
from queue_server.supervisor import Supervisor

from .api import api
from .events import Announcer
from .pages import routes as page_routes
from .store import forget_finished, remind_overdue


@dataclass(frozen=True)
class DoorConfig:
    approval_days: int = 20          # an approval is expected this many days after the visit handed it in
    sweep_s: float = 30.0            # how often overdue approvals and unannounced transitions are looked for
    rating_window_s: int = 1800      # the resident rates on the visitor's device during the visit
    signature_max: int = 100_000     # bytes of the signature image
    visit_body_max: int = 160_000    # the visit record with its signature, as base64 in JSON

    @classmethod
    def from_settings(cls, settings: Settings) -> "DoorConfig":
        """From the environment, overridden per app by ``Settings.extra`` (same names)."""
        env = {**os.environ, **settings.extra}
        return cls(approval_days=int(env.get("QUEUE_DOOR_APPROVAL_DAYS", "20")),
                   sweep_s=float(env.get("QUEUE_DOOR_SWEEP_S", "30")),
                   rating_window_s=int(env.get("QUEUE_DOOR_RATING_WINDOW_S", "1800")))


@dataclass
class Door:
    """What the component keeps per process, on ``app.state.door``."""
    cfg: DoorConfig
    announcer: Announcer


async def sweep(app: Starlette) -> None:
    """Remind of what went overdue, forget the personal data of cases finished long ago, then announce
    whatever is not on the streams yet."""
    state = app.state
    now = state.clock.now_ms()
    await remind_overdue(state.pool, now, state.settings.timezone)
    await forget_finished(state.pool, now, state.settings.phone_retention_days)
    await state.door.announcer.announce()


async def _every(seconds: float, stop: asyncio.Event, app: Starlette) -> None:
    """The sweep once a period; a failing one ends the task, for the supervisor to start again."""
    while not stop.is_set():
        await sweep(app)
        try:
            await asyncio.wait_for(stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass


class DoorComponent:
    def __init__(self) -> None:
        self.routes: list[BaseRoute] = [*api.routes, *page_routes]
        self.docs: list[Doc] = list(api.docs)

    async def start(self, app: Starlette, work: Supervisor) -> None:
        state = app.state
        cfg = DoorConfig.from_settings(state.settings)
        state.door = Door(cfg, Announcer(state.pool, state.redis, state.keys, state.settings.stream_maxlen))
        if state.settings.runs_background:
            work.run("door-sweep", lambda: _every(cfg.sweep_s, work.stop, app))


component = DoorComponent()
