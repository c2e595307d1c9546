"""Serves the pages and their assets, and the QR code printed on a ticket. The pages are static
files: each reads its center, window or ticket from its own path and talks to the API and the
websockets; the routes here only refuse paths that name nothing, so a typo shows a clear 404."""
from __future__ import annotations

import io
import re
from pathlib import Path

import segno
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from queue_server.api.endpoints import Doc, Endpoints
from queue_server.api.problems import Problem
from queue_server.api.tickets import limit_outsider
from queue_server.domain.catalog import Catalog
from queue_server.domain.numbering import center_of
from queue_server.supervisor import Supervisor

HERE = Path(__file__).resolve().parent
TICKET_ID = re.compile(r"^[a-z0-9_]{1,64}-\d{8}-[A-Z]{1,4}\d{1,6}$")
REVIEW_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")   # a web review link's secret (evaluation.links)

# Pages carry device tokens in their URL: keep them out of Referer headers, and let a page run
# only its own scripts and talk only to its own origin.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: https:; connect-src 'self' ws: wss:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}

NOT_FOUND = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>未找到 Not found</title>
<link rel="stylesheet" href="/assets/common.css"><body class="notfound"><main>
<h1>页面未找到 <span class="en">Page not found</span></h1><p>{what}</p></main></body></html>"""


def _catalog(request: Request) -> Catalog:
    return request.app.state.engine.catalog


def _known(request: Request) -> str | None:
    """What in the path names nothing (for the 404 text), or None when the page may be served."""
    params = request.path_params
    catalog = _catalog(request)
    if "ticket_id" in params:
        tid = params["ticket_id"]
        return None if TICKET_ID.match(tid) and center_of(tid) in catalog.centers else f"ticket {tid}"
    if "point" in params:
        code, _, point = params["point"].partition("-")
        found = catalog.centers.get(code)
        return None if found is not None and point in found.service_points else f"service point {params['point']}"
    center = catalog.centers.get(params["center"])
    if center is None:
        return f"center {params['center']}"
    if "window" in params and params["window"] not in center.windows:
        return f"window {params['window']}"
    return None


def page(name: str):  # type: ignore[no-untyped-def]
    path = HERE / f"{name}.html"

    async def serve(request: Request) -> Response:
        missing = _known(request)
        if missing is not None:
            text = missing.replace("&", "&amp;").replace("<", "&lt;")
            return HTMLResponse(NOT_FOUND.format(what=text), 404, headers=PAGE_HEADERS)
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
    return serve


api = Endpoints("pages")


@api("GET", "/api/v1/tickets/{id}/qr.svg", "QR code (SVG) of the ticket's status page, for the printed ticket;"
     " `?review=TOKEN` (the secret of the ticket's web review link, which the kiosk makes) rides in the URL's"
     " fragment, so the status page can offer the review once the ticket is finished",
     auth=False, responses={404: "not a ticket id", 422: "review is not a review link's token", 429: "rate limited"},
     query={"review": "the secret of the ticket's web review link"})
async def ticket_qr(request: Request) -> Response:
    limit_outsider(request, None)
    tid = request.path_params["id"]
    if not TICKET_ID.match(tid) or center_of(tid) not in _catalog(request).centers:
        raise Problem(404, "Not found", f"{tid!r} is not a ticket id")
    review = request.query_params.get("review")
    if review is not None and not REVIEW_TOKEN.match(review):
        raise Problem(422, "Invalid request", "review: not a review link's token",
                      errors=[{"field": "review", "message": "not a review link's token"}])
    base = request.app.state.settings.public_base_url.rstrip("/")
    out = io.BytesIO()
    segno.make(f"{base}/status/{tid}" + (f"#review={review}" if review else ""), error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False)
    # A QR that carries a review secret is the resident's alone: no shared cache keeps it.
    cache = "no-store" if review else "public, max-age=86400"
    return Response(out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": cache})


class Displays:
    """The component `app.COMPONENTS` plugs in: page routes, assets, the QR endpoint."""

    routes: list[BaseRoute] = [
        Route("/display/{center}", page("display")),
        Route("/screen/{center}/{window}", page("screen")),
        Route("/tablet/{center}/{window}", page("tablet")),
        Route("/kiosk/{center}", page("kiosk")),
        Route("/status/{ticket_id}", page("status")),
        Route("/staff/{center}/{window}", page("staff")),
        Route("/network/{center}", page("network")),
        Route("/point/{point}", page("point")),
        Route("/assistant/{point}", page("assistant")),
        Route("/book/{center}", page("book")),
        Route("/appointments/{center}", page("appointments")),
        Mount("/assets", StaticFiles(directory=HERE / "static"), name="assets"),
        *api.routes,
    ]
    docs: list[Doc] = api.docs

    async def start(self, app: Starlette, work: Supervisor) -> None:
        """Pages run no background work."""


component = Displays()
