"""The materials checklist of a ticket and its scans: the assistant at the ticket's point uploads a scan
of each item, the clerk of the window the ticket is at accepts or rejects it with a reason, and both
(and the center's managers, and the district admin as auditor) see the scans through short-lived
signed links. Each upload and review is a row in PostgreSQL first, then an event on the center's
stream that reaches the point's assistant socket and the window's console."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from starlette.requests import Request
from starlette.responses import Response

from network.assistant import at_point
from queue_server.api.auth import principal, require
from queue_server.api.endpoints import Endpoints, json, read_body, record_id
from queue_server.api.problems import Problem
from queue_server.api.schemas import Body, MaterialItemInfo
from queue_server.api.tickets import limit_outsider
from queue_server.clock import from_ms
from queue_server.domain.materials import DECISIONS, SCANNABLE

from . import links, scans
from .access import may_see, matter_of, ticket_of
from .handover import PackageView, package_of_ticket, view as package_view
from .intake import ALLOWED, receive

api = Endpoints("materials")
UPLOADERS = {"manager", "assistant"}
REVIEWERS = {"manager", "staff"}


class Scan(BaseModel):
    id: int
    ticket_id: str
    point: str
    item: int
    sha256: str = Field(description="the content's SHA-256: its name in the store")
    size: int
    media_type: str
    uploaded_by: str
    uploaded_at: int = Field(description="epoch ms")
    state: Literal["pending", "accepted", "rejected"]
    reason: str | None = Field(default=None, description="why the clerk rejected it")
    reviewed_by: str | None = None
    reviewed_at: int | None = None
    url: str | None = Field(default=None, description="signed link to the file, good until url_expires_at")
    url_expires_at: int | None = Field(default=None, description="epoch seconds")


class ChecklistItem(MaterialItemInfo):
    scans: list[Scan] = Field(description="every scan of the item, oldest first; the last one counts")


class Checklist(BaseModel):
    ticket_id: str
    matter: str
    matter_zh: str
    matter_en: str
    point: str | None
    items: list[ChecklistItem]
    package: PackageView | None = Field(default=None, description="the hand-over of originals, once packed")


class ScanReview(Body):
    decision: Literal[DECISIONS]  # type: ignore[valid-type]
    reason: str | None = Field(default=None, min_length=1, max_length=200, description="required to reject")

    @model_validator(mode="after")
    def _reason_to_reject(self) -> "ScanReview":
        if self.decision == "rejected" and not (self.reason or "").strip():
            raise ValueError("reason: a rejection says why")
        return self


def scan_body(request: Request, r: Any) -> dict[str, Any]:
    """A scan with a fresh signed link to its file."""
    m = request.app.state.materials
    url, expires = links.link(m.config.link_key, r["id"], request.app.state.clock.now_ms(), m.config.link_ttl_s)
    return {**scans.as_view(r), "url": url, "url_expires_at": expires}


@api("GET", "/api/v1/tickets/{id}/materials", "The ticket's materials checklist with every scan (signed links"
     " to the files) and its package of originals; for the assistant of its point, the clerk of its window,"
     " the center's managers and the admin", response=Checklist,
     responses={403: "not one of the ticket's people", 404: "no such ticket"})
async def checklist(request: Request) -> Response:
    who = await principal(request)
    assert who is not None
    ticket = await ticket_of(request, request.path_params["id"])
    if not may_see(who, ticket):
        raise Problem(403, "Forbidden", "only the ticket's assistant, clerk, managers and auditors see its materials")
    matter = matter_of(request, ticket)
    pool = request.app.state.pool
    found = await scans.of_ticket(pool, ticket["id"])
    package = await package_of_ticket(pool, ticket["id"])
    now_ms = request.app.state.clock.now_ms()
    items = [{"item": i.item, "name_zh": i.name_zh, "name_en": i.name_en, "form": i.form, "copies": i.copies,
              "to_center": i.to_center, "scans": [scan_body(request, r) for r in found if r["item"] == i.item]}
             for i in matter.items]
    return json({"ticket_id": ticket["id"], "matter": matter.code, "matter_zh": matter.name_zh,
                 "matter_en": matter.name_en, "point": ticket.get("service_point"), "items": items,
                 "package": package_view(package, now_ms) if package else None})


@api("POST", "/api/v1/points/{point}/tickets/{id}/materials/{item}", "Upload a scan of one item of the ticket's"
     f" checklist: the raw bytes as the body, Content-Type one of {', '.join(ALLOWED)}, checked against the"
     " content; the same bytes again answer 200 with the same scan", response=Scan, status=201,
     responses={200: "the same bytes were the item's last scan: that scan again", 403: "not this point's assistant,"
                " or a ticket of another point", 404: "no such ticket or checklist item",
                409: "the ticket is not at a window (called, serving or paused)", 413: "over the size cap",
                415: "not a scan, or not the type it was sent as", 429: "rate limited"})
async def upload(request: Request) -> Response:
    state = request.app.state
    who, center, code = await at_point(request, UPLOADERS)
    if who.role != "admin":   # an assistant's tablet is an outsider's reach: its own bucket
        state.limiter.check(f"scan:{request.state.token_hash}")
    ticket = await ticket_of(request, request.path_params["id"])
    if ticket["center"] != center.code or ticket.get("service_point") != code:
        raise Problem(403, "Forbidden", f"ticket {ticket['id']} was not taken at service point {code}", code="other_point")
    if ticket["status"] not in SCANNABLE:
        raise Problem(409, "Conflict", f"ticket {ticket['number']} is {ticket['status']}: scans are taken while"
                      " it is at a window")
    raw = request.path_params["item"]
    item = record_id(raw)
    if item is None or item not in {i.item for i in matter_of(request, ticket).items}:
        raise Problem(404, "Not found", f"no item {raw[:20]!r} in the checklist of {ticket['matter']}")
    received = await receive(request, state.materials.config.max_bytes)
    await state.materials.store.put(received.sha256, received.data, received.media_type)
    async with state.pool.acquire() as conn:
        last = await scans.latest(conn, ticket["id"], item)
        if last is not None and last["sha256"] == received.sha256 and last["state"] == "pending":
            row, status = last, 200    # a retry (its event may not have gone out): the same scan
        else:
            row, status = await scans.add(conn, ticket, item, received.sha256, len(received.data),
                                          received.media_type, who.actor, from_ms(state.clock.now_ms())), 201
    await state.engine.material_event(ticket["id"], "material.uploaded", {"scan": scans.as_view(row)})
    return json(scan_body(request, row), status)


@api("POST", "/api/v1/materials/scans/{id}/review", "Accept a scan, or reject it with the reason the assistant"
     " sees; by the clerk of the window the ticket is at, or a manager", body=ScanReview, response=Scan,
     responses={403: "not the ticket's clerk", 404: "no such scan",
                409: "already reviewed, or the ticket is no longer at the window", 422: "invalid field"})
async def review(request: Request) -> Response:
    state = request.app.state
    who = await principal(request)
    assert who is not None
    raw = request.path_params["id"]
    scan_id = record_id(raw)
    found = await scans.one(state.pool, scan_id) if scan_id is not None else None
    if found is None:
        raise Problem(404, "Not found", f"no scan {raw[:20]!r}")
    ticket = await ticket_of(request, found["ticket_id"])
    require(who, found["center"], REVIEWERS, window=ticket.get("window") or "")
    if not may_see(who, ticket):
        raise Problem(403, "Forbidden", "only the clerk of the ticket's window reviews its scans")
    body = await read_body(request, ScanReview)
    if ticket["status"] not in SCANNABLE:
        raise Problem(409, "Conflict", f"ticket {ticket['number']} is {ticket['status']}, no longer at the window")
    row = await scans.review(state.pool, found["id"], body.decision, (body.reason or "").strip() or None,
                             who.actor, from_ms(state.clock.now_ms()))
    if row is None:
        raise Problem(409, "Conflict", f"scan {found['id']} was reviewed already")
    await state.engine.material_event(ticket["id"], "material.reviewed", {"scan": scans.as_view(row)})
    return json(scan_body(request, row))


@api("GET", "/api/v1/materials/scans/{id}/file", "The file of a scan, by the signed link the checklist gives"
     " (?expires=&sig=); never cached", auth=False,
     responses={403: "the link is not valid or has expired", 404: "no such scan", 429: "rate limited"},
     query={"expires": "when the link expires, epoch seconds", "sig": "the link's HMAC-SHA256 signature (hex)"})
async def scan_file(request: Request) -> Response:
    state = request.app.state
    scan_id = record_id(request.path_params["id"])
    q = request.query_params
    if scan_id is None or not links.valid(state.materials.config.link_key, scan_id, q.get("expires", ""),
                                          q.get("sig", ""), state.clock.now_ms()):
        limit_outsider(request, None)
        raise Problem(403, "Forbidden", "the link is not valid or has expired: ask the checklist for a new one")
    # a valid link is limited on its own: the consoles of a whole center may share one address
    state.limiter.check(f"scan-link:{q['sig']}")
    found = await scans.one(state.pool, scan_id)
    data = await state.materials.store.get(found["sha256"]) if found is not None else None
    if found is None or data is None:
        raise Problem(404, "Not found", f"no scan {scan_id}")
    return Response(data, media_type=found["media_type"], headers={
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
        "Referrer-Policy": "no-referrer", "Content-Disposition": f'inline; filename="scan-{scan_id}"'})
