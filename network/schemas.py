"""Request and response bodies of the service network (validated by pydantic, documented in OpenAPI)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from queue_server.api.schemas import Body, ShortText
from queue_server.domain.network import KINDS, STATUSES, parse_hhmm

PointCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")]
WindowCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,32}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
Kind = Literal[tuple(KINDS)]  # type: ignore[valid-type]
Status = Literal[tuple(STATUSES)]  # type: ignore[valid-type]
HHMM = Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}$")]
Weekday = Annotated[int, Field(ge=1, le=7)]


class NewPoint(Body):
    code: PointCode = Field(description="unique within its center; lower-case letters, digits and _")
    name_zh: Name
    name_en: Name
    kind: Kind = Field(description="; ".join(f"{k}: {zh} {en}" for k, (zh, en) in KINDS.items()))
    address: ShortText = ""
    lat: float = Field(ge=-90, le=90, description="WGS-84 latitude")
    lng: float = Field(ge=-180, le=180, description="WGS-84 longitude")
    reason: Reason = Field(default="created", description="kept in the point's history")


class StatusChange(Body):
    status: Status = Field(description="planned → active ⇄ suspended → closed; closed is final")
    reason: Reason


class PointChange(BaseModel):
    from_status: str | None
    to_status: str
    changed_by: str
    reason: str
    at: int = Field(description="ms since epoch")


class Assignment(BaseModel):
    id: int
    center: str
    window: str
    point: str
    starts: str = Field(description="HH:MM, the center's local time")
    ends: str = Field(description="HH:MM (24:00 = end of day), excluded")
    weekdays: list[int] = Field(description="ISO weekdays it holds on, Monday = 1")


class Point(BaseModel):
    id: str = Field(description="center-code: the name in /ws/points/{point}/...")
    center: str
    code: str
    name_zh: str
    name_en: str
    kind: str
    kind_zh: str
    kind_en: str
    address: str
    lat: float | None
    lng: float | None
    status: str
    history: list[PointChange] = Field(default_factory=list)
    assignments: list[Assignment] = Field(default_factory=list)


class PointList(BaseModel):
    points: list[Point]


class NewAssignment(Body):
    window: WindowCode = Field(description="a remote window of the center")
    point: PointCode
    starts: HHMM = Field(description="HH:MM, the center's local time")
    ends: HHMM = Field(description="HH:MM, after starts; 24:00 for the end of the day")
    weekdays: list[Weekday] = Field(default=[1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7,
                                    description="ISO weekdays it holds on (Monday = 1); every day if absent")

    @field_validator("starts")
    @classmethod
    def _starts(cls, v: str) -> str:
        parse_hhmm(v)
        return v

    @field_validator("ends")
    @classmethod
    def _ends(cls, v: str) -> str:
        parse_hhmm(v, allow_end_of_day=True)
        return v


class AssignmentList(BaseModel):
    assignments: list[Assignment]
