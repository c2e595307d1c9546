"""Materials as a component of the app: the checklist and scans API, the hand-over of originals, and
the store the scans go to (a local folder or an S3-compatible bucket, by configuration)."""
from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from queue_server.api.endpoints import Doc
from queue_server.supervisor import Supervisor

from .api import api
from .config import MaterialsConfig
from .handover import api as handover_api
from .store import BlobStore, open_store


@dataclass(frozen=True)
class Materials:
    """What the handlers reach as ``app.state.materials``."""

    config: MaterialsConfig
    store: BlobStore


class MaterialsComponent:
    def __init__(self) -> None:
        self.routes: list[BaseRoute] = [*api.routes, *handover_api.routes]
        self.docs: list[Doc] = [*api.docs, *handover_api.docs]

    async def start(self, app: Starlette, work: Supervisor) -> None:
        """No background work: every step is done in its request."""
        config = MaterialsConfig.from_settings(app.state.settings)
        app.state.materials = Materials(config, open_store(config))


component = MaterialsComponent()
