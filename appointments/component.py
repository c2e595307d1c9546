"""Appointments as a component of the app: the API and the supervised sweep that releases bookings
not checked in within the grace period after their slot began."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from queue_server.api.endpoints import Doc
from queue_server.clock import from_ms
from queue_server.supervisor import Supervisor

from . import store
from .api import api
from .config import AppointmentsConfig

log = logging.getLogger("appointments")


@dataclass
class Appointments:
    """What the appointments keep per process, on ``app.state.appointments``."""
    config: AppointmentsConfig


async def sweep(app: Starlette, stop: asyncio.Event) -> None:
    """Release overdue bookings every ``sweep_s`` by the app's clock (injected in tests); several
    instances sweeping at once release each booking once (the update takes only rows still booked)."""
    cfg: AppointmentsConfig = app.state.appointments.config
    while not stop.is_set():
        released = await store.release_overdue(app.state.pool, from_ms(app.state.clock.now_ms()), cfg.grace_s)
        if released:
            log.info("released %d appointments not checked in within %d s", released, cfg.grace_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), cfg.sweep_s)


class AppointmentsComponent:
    def __init__(self) -> None:
        self.routes: list[BaseRoute] = list(api.routes)
        self.docs: list[Doc] = list(api.docs)

    async def start(self, app: Starlette, work: Supervisor) -> None:
        app.state.appointments = Appointments(AppointmentsConfig.from_env())
        if app.state.settings.runs_background:
            work.run("appointment-release", lambda: sweep(app, work.stop))


component = AppointmentsComponent()
