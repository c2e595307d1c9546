"""Who may see or act on a ticket's materials, and the ticket and matter they are about."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request

from queue_server.api.problems import Problem
from queue_server.domain.catalog import Matter
from queue_server.domain.numbering import center_of
from queue_server.record.people import Principal



def may_see(who: Principal, ticket: dict[str, Any]) -> bool:
    """The ticket's own people: the assistant of its point, the clerk of its window; and those who
    audit: the center's managers and auditors, the district's auditors and admin. Auditors only read."""
    if who.role == "admin" or (who.role == "auditor" and who.center is None):   # a district auditor
        return True
    if who.center != ticket["center"]:
        return False
    if who.role in ("manager", "auditor"):
        return True
    if who.role == "assistant":
        return who.point is not None and who.point == ticket.get("service_point")
    if who.role == "staff":   # a clerk's token without a window touches no ticket (domain/access.py)
        return who.window is not None and who.window == ticket.get("window")
    return False


async def ticket_of(request: Request, ticket_id: str) -> dict[str, Any]:
    if center_of(ticket_id) not in request.app.state.engine.catalog.centers:
        raise Problem(404, "Not found", f"ticket {ticket_id[:80]!r} not found")
    return (await request.app.state.engine.ticket(ticket_id)).ticket


def matter_of(request: Request, ticket: dict[str, Any]) -> Matter:
    found = request.app.state.engine.catalog.matters.get(ticket["matter"])
    if found is None:   # taken before the matter left the catalog
        raise Problem(404, "Not found", f"matter {ticket['matter']!r} is no longer in the catalog")
    return found
