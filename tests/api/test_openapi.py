"""/openapi.json against the app's real routes, both ways: every HTTP API route (path and method) is
documented, and nothing is documented that no route serves. Websockets and the static mount are not
HTTP API; the pages are HTML for browsers, each checked to answer HTML so the list cannot hide an API."""
from __future__ import annotations

import re
from starlette.routing import Match, Mount, Route, WebSocketRoute

from queue_server.config import Settings
from tests.support import running_app

C = "jingansi"
# The pages (HTML for people), with a path that opens each; not part of the HTTP API.
PAGES = {"/display/{center}": f"/display/{C}", "/screen/{center}/{window}": f"/screen/{C}/w1",
         "/tablet/{center}/{window}": f"/tablet/{C}/w1", "/kiosk/{center}": f"/kiosk/{C}",
         "/status/{ticket_id}": "/status/jingansi-20260301-A001", "/staff/{center}/{window}": f"/staff/{C}/w1",
         "/review/{token}": "/review/unknown", "/dashboard": "/dashboard", "/network/{center}": f"/network/{C}", "/point/{point}": f"/point/{C}-sp1",
         "/assistant/{point}": f"/assistant/{C}-sp1", "/remote": "/remote", "/door/{center}": f"/door/{C}",
         "/door/{center}/visit": f"/door/{C}/visit",
         "/login": "/login", "/admin": "/admin", "/enroll": "/enroll",
         "/book/{center}": f"/book/{C}", "/appointments/{center}": f"/appointments/{C}",
         "/audit": "/audit", "/inspections/{center}": f"/inspections/{C}"}
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def served_by(route: Route, path: str, method: str) -> bool:
    """Does ``route`` serve a documented ``path`` (its parameters filled in) with ``method``?"""
    concrete = re.sub(r"\{[^}]+\}", "p1", path)
    match, _ = route.matches({"type": "http", "path": concrete, "method": method, "root_path": ""})
    return match is Match.FULL


async def test_openapi_describes_every_route_and_only_routes(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        spec = (await client.get("/openapi.json")).json()
        documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops
                      if method.upper() in METHODS}
        routes = [r for r in app.routes if isinstance(r, Route) and r.path != "/openapi.json"]
        assert all(isinstance(r, (Route, WebSocketRoute, Mount)) for r in app.routes)   # nothing else to check
        api = [r for r in routes if r.path not in PAGES]

        not_routed = sorted((p, m) for p, m in documented if not any(served_by(r, p, m) for r in routes))
        assert not not_routed, f"documented but no route serves them: {not_routed}"
        undocumented = sorted((r.path, m) for r in api for m in (r.methods or set()) & METHODS
                              if not any(served_by(r, p, dm) for p, dm in documented if dm == m))
        assert not undocumented, f"routed but not in /openapi.json: {undocumented}"
        assert set(PAGES) <= {r.path for r in routes}, "a page in the list is gone: take it out"
        for path in PAGES.values():
            r = await client.get(path)
            assert r.headers["content-type"].startswith("text/html"), (path, r.status_code, r.headers["content-type"])

        issue = spec["paths"]["/api/v1/centers/{center}/tickets"]["post"]
        ref = issue["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert "phone" in spec["components"]["schemas"][ref]["properties"]
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).json()["checks"] == {"redis": "ok", "postgres": "ok", "tasks": "ok"}
