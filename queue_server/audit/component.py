"""The audit log as a component of the app: its reading API and page, the capture of every audited
request (wrapped around the app's middleware stack, as ops' request timer is) and the supervised
writer that puts the entries into PostgreSQL."""
from __future__ import annotations

import logging
import os

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from ..api.endpoints import Doc
from ..supervisor import Supervisor
from .api import api, page
from .trail import AuditLog, AuditTrail

log = logging.getLogger("queue_server.audit")


class AuditComponent:
    def __init__(self) -> None:
        self.routes: list[BaseRoute] = [*api.routes, Route("/audit", page)]
        self.docs: list[Doc] = list(api.docs)

    async def start(self, app: Starlette, work: Supervisor) -> None:
        state = app.state
        audit = state.audit = AuditLog(state.pool, state.clock, float(os.environ.get("QUEUE_AUDIT_FLUSH_S", "0.25")))
        stack = app.middleware_stack or app.build_middleware_stack()
        app.middleware_stack = AuditTrail(stack, audit)
        work.run("audit log", lambda: audit.run(work.stop))

        async def last_flush() -> None:
            try:
                await audit.flush()
            except Exception as exc:   # PostgreSQL away at shutdown: say what is lost, do not hide it
                log.error("audit log: %d entries could not be written at shutdown (%s)", len(audit.pending),
                          type(exc).__name__)
        work.at_close(last_flush)


component = AuditComponent()
