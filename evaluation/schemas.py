"""Request and response bodies of the evaluation API (validated by pydantic, documented in OpenAPI)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from queue_server.api.schemas import Body, Code

from .levels import Reason

Comment = Annotated[str, StringConstraints(max_length=500, strip_whitespace=True)]
Note = Annotated[str, StringConstraints(max_length=1000, strip_whitespace=True)]
LinkToken = Annotated[str, StringConstraints(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


class NewRating(Body):
    ticket_id: Code
    level: int = Field(ge=1, le=5, description="5 very satisfied ... 1 very dissatisfied; 1-2 are bad reviews")
    reasons: list[Reason] = Field(default_factory=list, max_length=6, description="at least one on a bad review")
    comment: Comment = ""
    channel: Literal["tablet", "web"] = Field(description="SMS ratings arrive through the Twilio webhook")
    link: LinkToken | None = Field(default=None, description="the web review link's secret (channel web)")


class Rating(BaseModel):
    id: int
    ticket_id: str
    round: int
    level: int
    channel: str
    is_default: bool
    prompted: bool
    reasons: list[str]
    comment: str
    rated_at: int
    center: str
    window: str | None
    staff_id: str | None
    matter: str
    bad: bool
    case_id: int | None = None


class NewLink(Body):
    ticket_id: Code
    round: Literal[1, 2] = Field(default=1, description="2: the follow-up rating after a rectification")


class LinkCreated(BaseModel):
    url: str
    ticket_id: str
    round: int
    expires_at: int


class Named(BaseModel):
    code: str | None
    name_zh: str
    name_en: str


class LinkInfo(BaseModel):
    ticket_id: str
    number: str
    round: int
    center: Named
    window: Named
    matter: Named
    finished_at: int
    expires_at: int


class LevelInfo(BaseModel):
    level: int
    zh: str
    en: str
    bad: bool


class ReasonInfo(BaseModel):
    code: str
    zh: str
    en: str


class Scale(BaseModel):
    levels: list[LevelInfo]
    reasons: list[ReasonInfo]


class SatisfactionFigures(BaseModel):
    """Residents' ratings over days, grouped as asked (center, window, staff, matter, day)."""

    since: str
    until: str
    center: str | None
    by: list[str]
    rows: list[dict[str, Any]]


class CaseStep(Body):
    note: Note = ""


class Case(BaseModel):
    id: int
    review_id: int
    ticket_id: str
    center: str
    window_code: str | None
    staff_id: str | None
    owner: str
    state: Literal["open", "contacted", "verified", "rectified", "closed", "appealed", "upheld"]
    opened_at: int
    contact_due: int
    resolve_due: int
    rectify_due: int
    contacted_at: int | None
    verified_at: int | None
    rectified_at: int | None
    closed_at: int | None
    escalated: list[str]
    overdue: list[str] = []
    followup_review_id: int | None
    notes: list[dict[str, Any]] = []


class CaseList(BaseModel):
    cases: list[Case]
