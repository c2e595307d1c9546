"""The service network's HTTP API: points (create, read, change status with a reason) and the
remote windows' assignments. District admins manage every center; a center's manager its own."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from queue_server.api.auth import principal, require
from queue_server.api.endpoints import Endpoints, json, read_body, record_id
from queue_server.api.problems import Problem
from queue_server.api.tickets import limit_outsider
from queue_server.domain.network import KINDS, parse_hhmm
from queue_server.record.exporter import csv_chunks, excel_row
from queue_server.record.people import Principal

from . import store
from .schemas import Assignment, AssignmentList, NewAssignment, NewPoint, Point, PointList, StatusChange

api = Endpoints("service network")
MANAGERS = {"manager"}


async def _manager_of(request: Request) -> tuple[Principal, str]:
    center = request.path_params["center"]
    who = await principal(request)
    assert who is not None
    require(who, center, MANAGERS)
    if center not in request.app.state.engine.catalog.centers:
        raise Problem(404, "Not found", f"unknown center {center!r}")
    return who, center


def _refused(exc: store.Refused) -> Problem:
    title = {404: "Not found", 409: "Conflict"}.get(exc.status, "Invalid request")
    extra = {"errors": [{"field": exc.field, "message": exc.message}]} if exc.field else {}
    return Problem(exc.status, title, exc.message, **extra)


@api("GET", "/api/v1/points", "Service points with status, history and assignments (?center=; a manager sees own)",
     response=PointList, responses={403: "another center"}, query={"center": "a center's code: only its points"})
async def list_points(request: Request) -> Response:
    who = await principal(request)
    assert who is not None
    center = request.query_params.get("center") or None
    if who.role != "admin":
        require(who, center or str(who.center), MANAGERS)
        center = who.center
    async with request.app.state.pool.acquire() as conn:
        return json({"points": await store.points(conn, center, with_history=True)})


@api("POST", "/api/v1/centers/{center}/points", "Create a service point (status planned)", body=NewPoint,
     response=Point, status=201, responses={404: "unknown center", 409: "the code is taken", 422: "invalid field"})
async def create_point(request: Request) -> Response:
    who, center = await _manager_of(request)
    body = await read_body(request, NewPoint)
    async with request.app.state.pool.acquire() as conn:
        try:
            await store.create_point(conn, center, body.model_dump(), who.actor)
            created = await store.point(conn, center, body.code)
        except store.Refused as exc:
            raise _refused(exc) from None
    await request.app.state.network.changed({"center": center, "point": body.code})
    return json(created, 201)


@api("GET", "/api/v1/centers/{center}/points/{point}", "A service point with its history and assignments",
     response=Point, responses={404: "unknown center or point"})
async def get_point(request: Request) -> Response:
    _, center = await _manager_of(request)
    async with request.app.state.pool.acquire() as conn:
        try:
            return json(await store.point(conn, center, request.path_params["point"]))
        except store.Refused as exc:
            raise _refused(exc) from None


@api("POST", "/api/v1/centers/{center}/points/{point}/status", "Change a point's status, with the reason",
     body=StatusChange, response=Point,
     responses={404: "unknown center or point", 409: "not a legal change from the current status", 422: "invalid field"})
async def change_status(request: Request) -> Response:
    who, center = await _manager_of(request)
    code = request.path_params["point"]
    body = await read_body(request, StatusChange)
    async with request.app.state.pool.acquire() as conn:
        try:
            await store.change_status(conn, center, code, body.status, who.actor, body.reason)
            changed = await store.point(conn, center, code)
        except store.Refused as exc:
            raise _refused(exc) from None
    await request.app.state.network.changed({"center": center, "point": code})
    return json(changed)


@api("GET", "/api/v1/centers/{center}/assignments", "Which remote window serves which point, and when",
     response=AssignmentList, responses={404: "unknown center"})
async def list_assignments(request: Request) -> Response:
    _, center = await _manager_of(request)
    async with request.app.state.pool.acquire() as conn:
        return json({"assignments": await store.assignments(conn, center)})


@api("POST", "/api/v1/centers/{center}/assignments", "A remote window serves a point from starts to ends on some weekdays",
     body=NewAssignment, response=Assignment, status=201,
     responses={404: "unknown center", 422: "invalid field, not a remote window, or overlapping an assignment"})
async def assign(request: Request) -> Response:
    who, center = await _manager_of(request)
    body = await read_body(request, NewAssignment)
    async with request.app.state.pool.acquire() as conn:
        try:
            made = await store.assign(conn, center, body.window, body.point, parse_hhmm(body.starts),
                                      parse_hhmm(body.ends, allow_end_of_day=True), frozenset(body.weekdays), who.actor)
        except store.Refused as exc:
            raise _refused(exc) from None
    await request.app.state.network.changed({"center": center, "point": body.point})
    return json(made, 201)


@api("DELETE", "/api/v1/centers/{center}/assignments/{id}", "End an assignment", status=204,
     responses={404: "no such assignment"})
async def unassign(request: Request) -> Response:
    _, center = await _manager_of(request)
    raw = request.path_params["id"]
    assignment = record_id(raw)
    if assignment is None:
        raise Problem(404, "Not found", f"no assignment {raw!r} at {center}")
    async with request.app.state.pool.acquire() as conn:
        try:
            await store.unassign(conn, center, assignment)
        except store.Refused as exc:
            raise _refused(exc) from None
    await request.app.state.network.changed({"center": center})
    return Response(status_code=204)


MAP_CSV_COLUMNS = ("type", "center", "code", "name_zh", "name_en", "kind_zh", "kind_en", "address", "lat", "lng",
                   "status", "open_now", "served_now", "waiting", "predicted_wait_min")


MAP_QUERY = {"center": "a center's code: only it and its points", "kind": "only places of this kind"}


def _map_filters(request: Request) -> tuple[str | None, str | None]:
    center = request.query_params.get("center") or None
    kind = request.query_params.get("kind") or None
    if center is not None and center not in request.app.state.engine.catalog.centers:
        raise Problem(422, "Invalid request", f"unknown center {center[:64]!r}",
                      errors=[{"field": "center", "message": "unknown center"}])
    if kind is not None and kind not in KINDS:
        raise Problem(422, "Invalid request", f"kind must be one of {', '.join(KINDS)}",
                      errors=[{"field": "kind", "message": "unknown kind"}])
    return center, kind


@api("GET", "/api/v1/map.geojson", "Every center and active service point with kind, hours, open now, live waiting"
     " and predicted wait (GeoJSON; ?center=, ?kind=); ETag, If-None-Match answers 304", auth=False,
     responses={304: "unchanged since the ETag given", 422: "unknown center or kind", 429: "rate limited"}, query=MAP_QUERY)
async def map_geojson(request: Request) -> Response:
    limit_outsider(request, None)
    center, kind = _map_filters(request)
    view = await request.app.state.network_map.view(request.app.state, center, kind)
    headers = {"ETag": view.etag, "Cache-Control": "public, max-age=5"}
    if view.etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(view.body, media_type="application/geo+json", headers=headers)


@api("GET", "/api/v1/map.csv", "Centers and service points (every status) with live waiting, for the district"
     " office (CSV, UTF-8 with BOM; a manager gets own center)", responses={403: "not a manager", 422: "unknown center"},
     query=MAP_QUERY)
async def map_csv(request: Request) -> Response:
    who = await principal(request)
    assert who is not None
    center, kind = _map_filters(request)
    if who.role != "admin":
        require(who, center or str(who.center), MANAGERS)
        center = who.center
    features = await request.app.state.network_map.features(request.app.state)

    async def rows():  # type: ignore[no-untyped-def]
        for f in features:
            p = f["properties"]
            if (center and p["center"] != center) or (kind and p.get("kind") != kind):
                continue
            lng, lat = (f["geometry"] or {}).get("coordinates", (None, None))
            yield excel_row([p["type"], p["center"], p.get("code", ""), p["name_zh"], p["name_en"], p.get("kind_zh", ""),
                             p.get("kind_en", ""), p["address"], lat, lng, p.get("status", "active"),
                             "yes" if p["open_now"] else "no", "yes" if p.get("served_now") else ("" if p["type"] == "center" else "no"),
                             p["waiting"], round(p["predicted_wait_s"] / 60)])

    return StreamingResponse(csv_chunks(MAP_CSV_COLUMNS, rows()), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="service-network.csv"'})
