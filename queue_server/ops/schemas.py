"""Response shapes of the ops endpoints, for the OpenAPI document."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Curve(BaseModel):
    bucket_s: int
    issued: list[int] = Field(description="tickets issued in each 15-minute bucket of the day, from local midnight")
    served: list[int] = Field(description="tickets finished in each bucket")


class WaitHistogram(BaseModel):
    edges_min: list[int] = Field(description="bin starts in minutes; the last bin is open-ended")
    counts: list[int]


class Ratings(BaseModel):
    rated: int
    good: int
    bad: int
    levels: dict[str, int]
    satisfaction_rate: float | None


class ServiceSplit(BaseModel):
    """One side of the remote-or-hall split of a day's tickets."""
    issued: int = Field(description="tickets issued today")
    served: int = Field(description="tickets finished today")
    waiting: int = Field(description="tickets waiting now")


class PointWindow(BaseModel):
    id: str
    name_zh: str | None
    name_en: str | None
    state: str = Field(description="open, paused or closed, now")
    open: bool
    staff_name: str | None
    current_number: str | None


class PointFigures(BaseModel):
    """A service point of the center, as the center view shows it."""
    code: str
    name_zh: str
    name_en: str
    kind: str
    status: str = Field(description="planned, active, suspended or closed")
    issued: int = Field(description="tickets issued from the point today")
    served: int = Field(description="its tickets finished today")
    waiting: int = Field(description="its tickets waiting now")
    windows: list[PointWindow] = Field(description="the remote windows assigned to serve it at this minute")
    devices: dict[str, int] | None = Field(description="its devices online/offline; null where the presence names none")


class DashboardFigures(BaseModel):
    """A center's (or the district's) live figures of the day, as the dashboard shows them."""

    model_config = ConfigDict(extra="allow")

    issued: int
    served: int
    no_shows: int
    cancelled: int
    transfers: int
    called: int
    waiting: dict[str, int] = Field(description="tickets waiting now per queue")
    waiting_total: int
    oldest_waiting_at: int | None
    longest_wait_s: float
    wait_avg_s: float | None
    handling_avg_s: float | None
    wait_avg_1h_s: float | None
    handling_avg_1h_s: float | None
    service_level: float | None = Field(description="share of the day's called tickets called within the target")
    service_level_target_s: int
    no_show_rate: float | None
    windows: dict[str, int]
    curve: Curve
    wait_histogram: WaitHistogram
    ratings: Ratings
    bad_reviews: dict[str, int]
    devices: dict[str, int]
    persister: dict[str, int]
    remote: ServiceSplit = Field(description="tickets issued at service points, served by remote windows")
    hall: ServiceSplit = Field(description="every other ticket: remote + hall = the totals")
    packages: dict[str, int] = Field(description="packages of originals: in_transit (packed or sent), at_center"
                                                 " (received, not returned), returns_overdue (at the center past due)")
    door: dict[str, int] = Field(description="door-to-door cases open now by stage (discovered, approved, scheduled,"
                                             " tracking) and overdue (an approval past its expected date)")
    points: list[PointFigures] | None = Field(default=None, description="a center's service points (not the district's)")
    day: str


class LiveFigures(BaseModel):
    now: int
    centers: dict[str, DashboardFigures]
    district: DashboardFigures | None = Field(description="absent for a token scoped to one center")


class ReportRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    period: str | None = Field(description="first day of the day, week (Monday) or month; null for the whole range")
    center: str | None = None
    window: str | None = None
    staff: str | None = None
    matter: str | None = None
    channel: str | None = None
    point: str | None = Field(default=None, description="by point: the service point the tickets were issued at; null: the hall")
    issued: int
    finished: int
    no_shows: int
    cancelled: int
    unfinished: int
    transfers: int
    called: int
    wait_avg_s: float | None
    wait_p50_s: float | None
    wait_p90_s: float | None
    wait_max_s: float | None
    service_level: float | None
    handling_avg_s: float | None
    handling_p50_s: float | None
    handling_p90_s: float | None
    handling_total_s: float | None
    no_show_rate: float | None
    rated: int | None
    satisfaction_rate: float | None
    rating_avg: float | None
    bad_reviews: int | None
    staff_name: str | None = Field(default=None, description="by staff: the clerk's name")
    on_duty_s: float | None = Field(default=None, description="by staff: window open or paused with the clerk on it")
    serving_s: float | None = Field(default=None, description="by staff: open with a ticket at the window")
    idle_s: float | None = Field(default=None, description="by staff: open with no ticket at the window")
    paused_s: float | None = Field(default=None, description="by staff: paused, all reasons")
    paused_by_reason: dict[str, float] | None = Field(default=None, description="by staff: paused seconds per reason")


class Report(BaseModel):
    since: str
    until: str
    period: str
    by: list[str]
    center: str | None
    service_level_target_s: int
    rows: list[ReportRow]

