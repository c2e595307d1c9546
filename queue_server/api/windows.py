"""Window endpoints: open, pause and close a window with its staff, and call the next ticket."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..domain.tickets import public_ticket
from ..record.people import find_staff
from .auth import principal, require_queue_action
from .centers import public_window
from .endpoints import Endpoints, json, read_body
from .problems import Problem
from .schemas import CallNext, Called, StaffOnDuty, Window

api = Endpoints("windows")
STATES = {"open": "open", "pause": "paused", "close": "closed"}


def _window(request: Request) -> tuple[str, str]:
    center, window = request.path_params["center"], request.path_params["window"]
    catalog = request.app.state.engine.catalog
    if center not in catalog.centers:
        raise Problem(404, "Not found", f"unknown center {center!r}")
    if window not in catalog.centers[center].windows:
        raise Problem(404, "Not found", f"unknown window {window!r} at {center}")
    return center, window


async def _set_state(request: Request) -> Response:
    verb = request.url.path.rsplit("/", 1)[1]
    center, window = _window(request)
    who = await principal(request)
    assert who is not None
    require_queue_action(who, f"{verb} window", center, window)
    body = await read_body(request, StaffOnDuty)
    staff: dict[str, str] = {}
    if verb == "open":
        staff_id = body.staff_id or who.staff_id
        if staff_id is None:
            raise Problem(422, "Invalid request", "staff_id is required to open a window",
                          errors=[{"field": "staff_id", "message": "required"}])
        if who.role == "staff" and who.staff_id and staff_id != who.staff_id:
            raise Problem(403, "Forbidden", "staff may open a window only for themselves")
        person = await find_staff(request.app.state.pool, staff_id)
        if person is None or person["center"] != center:
            raise Problem(422, "Invalid request", f"unknown staff {staff_id!r} at {center}",
                          errors=[{"field": "staff_id", "message": "unknown at this center"}])
        staff = {"id": person["id"], "name": person["name"], "no": person["employee_no"], "photo": person["photo_url"]}
    if verb == "pause" and not body.reason:
        raise Problem(422, "Invalid request", "a reason is required to pause a window",
                      errors=[{"field": "reason", "message": "required"}])
    result = await request.app.state.engine.set_window(center, window, STATES[verb], staff, body.reason or "")
    return json(public_window(result["window"]))


for _verb in STATES:
    api("POST", f"/api/v1/centers/{{center}}/windows/{{window}}/{_verb}", f"Window: {_verb}", body=StaffOnDuty,
        response=Window, responses={403: "another center or window; a clerk's token without a window; an auditor", 409: "the window still has a ticket"})(_set_state)


@api("POST", "/api/v1/centers/{center}/windows/{window}/call-next", "Call the next ticket (or one named ticket) to the window",
     body=CallNext, response=Called, responses={204: "nothing waits for this window", 403: "another center or window; a clerk's token without a window; an auditor",
                                               409: "window not open or busy"})
async def call_next(request: Request) -> Response:
    center, window = _window(request)
    who = await principal(request)
    assert who is not None
    require_queue_action(who, "call next", center, window)
    body = await read_body(request, CallNext)
    if body.ticket and not body.reason:
        raise Problem(422, "Invalid request", "a reason is required to call a ticket out of order",
                      errors=[{"field": "reason", "message": "required with ticket"}])
    called = await request.app.state.engine.call_next(center, window, body.ticket, body.reason or "")
    if called is None:
        return Response(status_code=204)
    return json({**called, "ticket": public_ticket(called["ticket"]), "window": public_window(called["window"])})
