"""The service network as a component of the app: its API and point sockets, and the listener that
reloads the catalog when any instance changes the network."""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from queue_server.api.endpoints import Doc
from queue_server.supervisor import Supervisor

from .api import api
from .assistant import api as assistant_api
from .map import MapCache
from .reload import CatalogReloader
from .sockets import routes as socket_routes


class NetworkComponent:
    def __init__(self) -> None:
        self.routes: list[BaseRoute] = [*socket_routes, *api.routes, *assistant_api.routes]
        self.docs: list[Doc] = [*api.docs, *assistant_api.docs]

    async def start(self, app: Starlette, work: Supervisor) -> None:
        reloader = app.state.network = CatalogReloader(app)
        app.state.network_map = MapCache()
        work.run("network-changes", lambda: reloader.listen(work))


component = NetworkComponent()
