"""Request and response bodies. Pydantic validates what outsiders send and names the bad field;
the same models give the OpenAPI document its schemas."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ..domain.tickets import Channel, Priority, Status

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
ShortText = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)]
Phone = Annotated[str, StringConstraints(pattern=r"^(\+?86)?1[3-9]\d{9}$")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IssueTicket(Body):
    matter: Code
    channel: Channel = Channel.KIOSK
    priority: Priority = Priority.NORMAL
    phone: Phone | None = Field(default=None, description="mainland mobile number, for SMS; never shown in full")
    service_point: Code | None = None
    appointment_at: datetime | None = Field(default=None, description="start of the booked slot (appointments), "
                                                                      "years 2000-2099")

    @field_validator("appointment_at")
    @classmethod
    def _this_century(cls, value: datetime | None) -> datetime | None:
        """1970, 0001 or 9999 are a client's unset or sentinel dates, never a booking (9999 also
        overflows the engine's milliseconds)."""
        if value is not None and not 2000 <= value.year <= 2099:
            raise ValueError("a booked slot between the years 2000 and 2099")
        return value


class Ticket(BaseModel):
    id: str
    center: str
    number: str
    queue: str
    matter: str
    channel: Channel
    priority: Priority
    status: Status
    window: str | None = None
    service_point: str | None = None
    phone_masked: str | None = None
    recalls: int = 0
    issued_at: int = Field(description="ms since epoch")
    called_at: int | None = None
    started_at: int | None = None
    finished_at: int | None = None
    ended_at: int | None = None
    called_out_of_order: str | None = None
    present_at: int | None = Field(default=None, description="ms since epoch: the assistant at the service point"
                                                              " marked the resident present (在场)")
    version: int


class TicketPosition(Ticket):
    ahead: int
    estimated_wait_s: int


class StaffOnDuty(Body):
    staff_id: Code | None = Field(default=None, description="defaults to the staff of the token")
    reason: ShortText | None = Field(default=None, description="why the window pauses")


class CallNext(Body):
    ticket: Code | None = Field(default=None, description="call this waiting ticket out of order")
    reason: ShortText | None = Field(default=None, description="required with ticket; kept in the record")


class TicketAction(Body):
    reason: ShortText | None = None


class Transfer(Body):
    to_queue: Code | None = None
    to_window: Code | None = None
    reason: ShortText | None = None


class Window(BaseModel):
    id: str
    name_zh: str | None = None
    name_en: str | None = None
    kind: str | None = None
    state: str
    staff_id: str | None = None
    staff_name: str | None = None
    staff_no: str | None = None
    pause_reason: str | None = None
    current: str | None = None
    since: int | None = None
    queues: list[str] = Field(default_factory=list, description="the queues this window serves")


class Called(BaseModel):
    ticket: Ticket
    window: Window
    reason: str | None = None


class QueuedNumber(BaseModel):
    """A live ticket as anyone may see it: its number and where it is, nothing of the person."""
    id: str
    number: str
    queue: str
    status: Status
    window: str | None = None


class QueueSnapshot(BaseModel):
    center: str
    cursor: str
    waiting: dict[str, int]
    windows: list[Window]
    tickets: list[Ticket | QueuedNumber] = Field(description="whole tickets for the center's staff, managers and "
                                                             "admins; only numbers for anyone else")


class NewToken(Body):
    role: Literal["manager", "staff", "device", "assistant", "auditor"] = Field(
        description="assistant: the assistant at a service point (帮办员), bound to its point; auditor: reads the"
                    " center's reports and exports, never acts")
    center: Code
    window: Code | None = None
    staff_id: Code | None = None
    device_kind: Literal["kiosk", "display", "screen", "tablet", "dashboard"] | None = None
    label: ShortText = ""
    point: Code | None = Field(default=None, description="a service point's code: the device or assistant belongs to"
                                                        " that point (required for an assistant)")


class TokenCreated(BaseModel):
    token: str
    role: str
    center: str
    window: str | None = None


class StreamLag(BaseModel):
    pending: int = Field(description="delivered to a persister, not yet acknowledged")
    undelivered: int = Field(description="not yet read by any persister (on Redis 6.2, counted up to 1,000)")
    lag_ms: int = Field(description="age of the oldest unrecorded event relative to the newest")


class PersisterLag(BaseModel):
    centers: dict[str, StreamLag]


class Health(BaseModel):
    status: str
    checks: dict[str, Any] = {}


class QueueInfo(BaseModel):
    code: str
    prefix: str
    name_zh: str
    name_en: str


class WindowServes(BaseModel):
    point: str
    starts: str = Field(description="HH:MM, the center's local time")
    ends: str = Field(description="HH:MM (24:00 = end of day), excluded")


class WindowInfo(BaseModel):
    code: str
    name_zh: str
    name_en: str
    kind: str
    queues: list[str]
    serves: list[WindowServes] = Field(default_factory=list, description="a remote window: the service points"
                                       " it serves daily, and when")


class ServicePointInfo(BaseModel):
    code: str
    name_zh: str
    name_en: str
    kind: str
    address: str
    lat: float | None = None
    lng: float | None = None
    status: str = Field(description="planned, active, suspended or closed; only an active point takes tickets")


class CenterSummary(BaseModel):
    code: str
    name_zh: str
    name_en: str
    address: str
    timezone: str
    hours: dict[str, Any]
    lat: float | None = Field(default=None, description="where the center stands (WGS-84); null: not known")
    lng: float | None = None


class CenterDetail(CenterSummary):
    queues: list[QueueInfo]
    windows: list[WindowInfo]
    service_points: list[ServicePointInfo]


class CenterList(BaseModel):
    centers: list[CenterSummary]


class MaterialItemInfo(BaseModel):
    item: int = Field(description="its place in the matter's checklist, from 1")
    name_zh: str
    name_en: str
    form: Literal["original", "copy"]
    copies: int
    to_center: bool = Field(description="the original must travel to the center (hand-over, docs/materials.md)")


class MatterInfo(BaseModel):
    code: str
    name_zh: str
    name_en: str
    bureau: str
    bureau_zh: str
    bureau_en: str
    whole_city: bool
    remote_eligible: bool
    door_to_door_eligible: bool
    materials: list[str]
    typical_minutes: int
    items: list[MaterialItemInfo] = Field(default_factory=list, description="the materials as a checklist")
    queue: str | None = None


class MatterList(BaseModel):
    matters: list[MatterInfo]
