"""Who may see or act on a ticket's materials, and the ticket and matter they are about."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request

from queue_server.api.auth import principal, require
from queue_server.api.problems import Problem
from queue_server.domain.catalog import Matter
from queue_server.domain.network import split_point_id
from queue_server.domain.numbering import center_of
from queue_server.record.people import Principal


def actor(who: Principal) -> str:
    """Who did it, as the record and the events say."""
    return "admin" if who.role == "admin" else f"{who.role}:{who.label or who.staff_id or who.point or who.center}"


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


async def at_point(request: Request, roles: set[str] | frozenset[str]) -> tuple[Principal, str, str]:
    """The caller, and the center and point of the path's ``{point}``: 404 for a point that is not there,
    403 unless the caller is one of ``roles`` at it."""
    center_code, code = split_point_id(request.path_params["point"])
    who = await principal(request)
    assert who is not None
    center = request.app.state.engine.catalog.centers.get(center_code)
    if center is None or code not in center.service_points:
        raise Problem(404, "Not found", f"unknown service point {request.path_params['point'][:80]!r}")
    require(who, center_code, roles, point=code)
    return who, center_code, code


async def ticket_of(request: Request, ticket_id: str) -> dict[str, Any]:
    if center_of(ticket_id) not in request.app.state.engine.catalog.centers:
        raise Problem(404, "Not found", f"ticket {ticket_id[:80]!r} not found")
    return (await request.app.state.engine.ticket(ticket_id)).ticket


def matter_of(request: Request, ticket: dict[str, Any]) -> Matter:
    found = request.app.state.engine.catalog.matters.get(ticket["matter"])
    if found is None:   # taken before the matter left the catalog
        raise Problem(404, "Not found", f"matter {ticket['matter']!r} is no longer in the catalog")
    return found
