"""Devices as a component of the app: the registry's API, the watcher that announces devices going
offline and coming back, and the listener that makes a revocation close sockets on every instance."""
from __future__ import annotations

import os
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from displays.component import page

from ..api.endpoints import Doc
from ..api.ratelimit import RateLimiter
from ..supervisor import Supervisor
from .api import api
from .inspections import api as inspections
from .watch import DeviceWatch, start


@dataclass
class Devices:
    """What the devices keep per process, on ``app.state.devices``."""
    watch: DeviceWatch
    heartbeats: RateLimiter     # per device: a heartbeat every few seconds is plenty


class DevicesComponent:
    def __init__(self) -> None:
        self.routes: list[BaseRoute] = [*api.routes, *inspections.routes,
                                          Route("/inspections/{center}", page("inspections"))]   # the inspector's tablet
        self.docs: list[Doc] = [*api.docs, *inspections.docs]

    async def start(self, app: Starlette, work: Supervisor) -> None:
        every_s = float(os.environ.get("QUEUE_DEVICE_WATCH_S", "5"))
        per_minute = int(os.environ.get("QUEUE_DEVICE_HEARTBEATS_PER_MINUTE", "30"))
        app.state.devices = Devices(start(app, work, every_s), RateLimiter(per_minute, burst=max(2, per_minute // 6)))


component = DevicesComponent()
