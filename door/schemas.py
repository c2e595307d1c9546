"""Request and response bodies of the door-to-door API (validated by pydantic, documented in OpenAPI)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from evaluation.levels import Reason as ReviewReason
from queue_server.api.schemas import Body, Code, Phone, ShortText
from queue_server.domain.door import Approval, Difficulty, HomeServiceReason, Source, Stage, VisitorKind

Note = Annotated[str, StringConstraints(max_length=500, strip_whitespace=True)]
Explanation = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
IdNumber = Annotated[str, StringConstraints(pattern=r"^\d{17}[\dXx]$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]
Address = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
RecordKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{16,64}$")]


class ListItem(Body):
    matter: Code
    difficulty: Difficulty


class NewListVersion(Body):
    items: list[ListItem] = Field(max_length=500, description="the whole list: each matter once")
    note: Note = Field(default="", description="what changed and why")


class ServiceList(BaseModel):
    scope: str = Field(description="'district', or a center's code for its own additions")
    version: int | None = Field(description="none before the first version")
    items: list[dict[str, str]]
    note: str = ""
    changed_by: str | None = None
    changed_at: int | None = None
    versions: list[dict[str, Any]] = Field(default_factory=list, description="every version, newest first")


class CenterServiceList(BaseModel):
    center: str
    items: list[dict[str, Any]] = Field(description="matter, difficulty, the matter's names and materials")
    versions: dict[str, int] = Field(description="the list versions this comes from, by scope")


class NewVisitor(Body):
    id: Code
    name: Name
    kind: VisitorKind


class Visitor(BaseModel):
    id: str
    center: str
    name: str
    kind: str


class VisitorList(BaseModel):
    center: str
    visitors: list[Visitor]


class NewCase(Body):
    resident_name: Name
    phone: Phone = Field(description="stored sealed, shown masked")
    id_number: IdNumber | None = Field(default=None, description="resident ID number; stored sealed, shown masked")
    address: Address
    matters: list[Code] = Field(min_length=1, max_length=10)
    reason: HomeServiceReason = Field(description="why the resident cannot come to the center")
    reason_note: Note = ""
    source: Source = Field(description="the channel that found the resident")
    note: Note = ""


class Discovered(BaseModel):
    case_id: int
    merged: bool = Field(description="true: merged into the resident's open case for the same matter")
    case: dict[str, Any]


class ReviewDecision(Body):
    decision: Literal["approve", "refuse"]
    reason: Note = Field(default="", description="required to refuse: the explanation the resident gets by SMS")


class NewVisit(Body):
    visitor: Code
    date: date
    slot: Literal["am", "pm"]


class Material(Body):
    name: ShortText
    collected: bool


class NewVisitRecord(Body):
    record_key: RecordKey = Field(description="made once by the page for this record: a resend returns the first result")
    arrived_at: int = Field(ge=946_684_800_000, le=4_102_444_800_000, description="ms since the epoch")
    materials: list[Material] = Field(max_length=50)
    accepted: bool
    reason: Note = Field(default="", description="required when not accepted")
    signature: str | None = Field(default=None, max_length=200_000,
                                  description="the resident's signature: a data: URL of a PNG or JPEG image")


class VisitRecorded(BaseModel):
    visit_id: int
    new: bool = Field(description="false: this record was already taken (a resend)")
    case: dict[str, Any]


class ApprovalChange(Body):
    state: Approval
    expected_by: date | None = Field(default=None, description="a new expected completion date")
    reason: Note = ""


class StageChange(Body):
    reason: Note = ""


class DoorRating(Body):
    level: int = Field(ge=1, le=5, description="5 very satisfied ... 1 very dissatisfied; 1-2 are bad reviews")
    reasons: list[ReviewReason] = Field(default_factory=list, max_length=6)
    comment: Annotated[str, StringConstraints(max_length=500, strip_whitespace=True)] = ""


class DoorCase(BaseModel):
    id: int
    center: str
    resident_name: str
    phone_masked: str
    id_number_masked: str | None
    address: str
    reason: HomeServiceReason
    reason_note: str
    source: Source
    stage: Stage
    list_versions: dict[str, int] | None
    discovered_at: int
    reviewed_at: int | None
    visited_at: int | None
    approvals_done_at: int | None
    closed_at: int | None
    updated_at: int
    matters: list[dict[str, Any]]
    overdue: bool
    visits: list[dict[str, Any]] = Field(default_factory=list)
    history: list[dict[str, Any]] = Field(default_factory=list, description="every transition: who, when, why")
    discoveries: list[dict[str, Any]] = Field(default_factory=list)
    rating: dict[str, Any] | None = None
    booking: dict[str, Any] | None = None


class CaseBoard(BaseModel):
    center: str
    cases: list[DoorCase]


class VisitList(BaseModel):
    visitor: str
    visits: list[dict[str, Any]]


class Figures(BaseModel):
    center: str | None
    since: str
    until: str
    cases: int
    by_stage: dict[str, int]
    overdue: int
    median_days_to_visit: float | None
    median_days_to_approval: float | None
    satisfaction: dict[str, Any]
