"""Remote acceptance sessions as a component of the app: the signaling socket and the relay between
instances (one pattern subscription each). It listens to the live screens' hub for the sessions'
ends, so it starts after them."""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from queue_server.api.endpoints import Doc
from queue_server.supervisor import Supervisor

from .config import SessionConfig
from .relay import SessionRelay
from .socket import routes as socket_routes


class RemoteSessions:
    def __init__(self) -> None:
        self.routes: list[BaseRoute] = list(socket_routes)
        self.docs: list[Doc] = []      # a websocket only: nothing for the HTTP API's document

    async def start(self, app: Starlette, work: Supervisor) -> None:
        state = app.state
        relay = state.remote_sessions = SessionRelay(state.redis, state.keys, state.settings, SessionConfig.from_env())
        if state.settings.holds_sockets:   # its sockets, and the hub it follows, are the sockets tier's
            state.realtime.hub.listeners.append(relay.on_event)
            work.run("session-signals", lambda: relay.follow_signals(work.stop))


component = RemoteSessions()
