"""The audit log's answers, for the OpenAPI document."""
from __future__ import annotations

from pydantic import BaseModel, Field


class AuditEntry(BaseModel):
    id: int
    at: str = Field(description="ISO 8601 in the server's timezone (Asia/Shanghai)")
    at_local: str = Field(description="the same as a reader writes it: 2026-11-30 09:00:00")
    role: str = Field(description="admin, manager, staff, assistant, auditor, or cli")
    actor: str = Field(description="the account, else the staff id, else the token's label, else the role")
    credential: str | None = Field(description="the first 12 hex digits of the token's SHA-256")
    center: str | None
    window: str | None = Field(description="the window the actor's token is bound to")
    action: str = Field(description="method and route, e.g. POST /api/v1/tickets/{id}/finish")
    target: dict[str, str] = Field(description="the route's parameters")
    outcome: int = Field(description="the answer's HTTP status")
    address: str | None
    user_agent: str | None


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page; null at the end")
    timezone: str
