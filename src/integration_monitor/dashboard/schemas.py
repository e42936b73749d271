"""Records of the dashboard's views; the JSON API returns them as they are.

Times are timezone-aware UTC. Ratios are shares from 0 to 1. Text meant for operators
(names, reasons) is in the language of the request.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, Field


class CellStatus(StrEnum):
    """The state of one database for one service, as the matrix shows it."""

    OK = "OK"  # usable for this service
    DEGRADED = "DEGRADED"  # reachable, but a problem blocks this service
    BROKEN = "BROKEN"
    NO_DATA = "NO_DATA"
    NOT_CHECKED = "NOT_CHECKED"


class Window(StrEnum):
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def length(self) -> dt.timedelta:
        return {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30)}[self.value]


class MatrixCell(BaseModel):
    database_code: str
    status: CellStatus
    mark: str = Field(description="Symbol that carries the status without colour: ✓ ! ✗ ∅ ?")
    label: str = Field(description="The status in words")
    reasons: list[str] = Field(description="Why the database is not usable for this service, one sentence each")


class MatrixService(BaseModel):
    number: int
    name: str
    end_to_end_per_appendix: bool = Field(description="The appendix's own assessment (toàn trình or not)")
    ready: bool | None = Field(description="The monitor's latest verdict; null before the first rollup")
    evaluated_at: dt.datetime | None
    not_ready_since: dt.datetime | None = Field(description="Opening time of the service's open incident")
    reasons: list[str]
    cells: list[MatrixCell] = Field(description="One cell per database the service reads")


class MatrixDatabase(BaseModel):
    code: str
    name: str
    short_name: str
    owner: str
    status: str | None
    failure_kind: str | None
    reason: str | None = Field(description="The pipeline's own text, in English")
    problems: list[str] = Field(description="What is wrong, from the check's figures, in the requested language")
    checked_at: dt.datetime | None
    unhealthy_since: dt.datetime | None


class Matrix(BaseModel):
    generated_at: dt.datetime
    language: str
    ready_count: int
    service_count: int
    databases: list[MatrixDatabase]
    services: list[MatrixService]


class FieldFigure(BaseModel):
    code: str
    label: str
    present: bool | None = Field(description="False when the field is absent from every record")
    completeness: float | None
    missing_count: int | None
    threshold: float | None
    passed: bool | None


class ServiceDatabaseDetail(BaseModel):
    code: str
    name: str
    owner: str
    wording_in_appendix: str
    field_count_in_appendix: int | None
    status: CellStatus
    checked_at: dt.datetime | None
    failure_kind: str | None
    reason: str | None
    access_allowed: bool | None = Field(description="Whether the database accepted a request carrying this service's code")
    signed: bool
    signature_present_ratio: float | None
    signature_valid_ratio: float | None
    signature_present_threshold: float | None
    signature_valid_threshold: float | None
    fields: list[FieldFigure]
    blocking: list[str]


class TimelineSegment(BaseModel):
    start: dt.datetime
    end: dt.datetime
    state: str = Field(description="ready, not_ready, mixed (part of the period ready) or no_result")
    ready_share: float | None
    reasons: list[str] = Field(default_factory=list, description="Blocking kinds seen in the segment")


class Timeline(BaseModel):
    window: Window
    start: dt.datetime
    end: dt.datetime
    ready_share: float | None = Field(description="Share of the rollup verdicts in the window that were ready")
    segments: list[TimelineSegment]


class IncidentItem(BaseModel):
    id: int
    scope: str
    subject: str
    subject_name: str
    status: str
    failure_kind: str | None
    reason: str | None
    opened_at: dt.datetime
    last_seen_at: dt.datetime
    closed_at: dt.datetime | None
    duration_seconds: float


class ResponsibleBody(BaseModel):
    code: str
    name: str


class EvidenceItem(BaseModel):
    database_code: str
    database_name: str
    status: CellStatus
    checked_at: dt.datetime | None
    completeness_mean: float | None = Field(description="Mean completeness of the fields the service requires")
    completeness_min: float | None
    fields_checked: int | None
    fields_below_threshold: int | None
    signature_present_ratio: float | None
    signature_valid_ratio: float | None
    signature_present_threshold: float | None


class TaskEvidence(BaseModel):
    service_number: int
    service_name: str
    task_index: int
    kind: str
    limitation: str | None
    recommendation: str
    responsible: list[ResponsibleBody]
    deadline: dt.date | None
    deadline_text: str | None
    deadline_passed: bool | None
    days_left: int | None
    service_ready: bool | None
    evidence: list[EvidenceItem]
    summary: str = Field(description="One sentence: the deadline beside the live evidence")


class ServiceDetail(BaseModel):
    number: int
    name: str
    managing_body: str
    end_to_end_per_appendix: bool
    ready: bool | None
    evaluated_at: dt.datetime | None
    not_ready_since: dt.datetime | None
    reasons: list[str]
    databases: list[ServiceDatabaseDetail]
    timelines: list[Timeline]
    open_incidents: list[IncidentItem]
    past_incidents: list[IncidentItem]
    tasks: list[TaskEvidence]


class WindowFigures(BaseModel):
    window: Window
    checks: int
    availability: float | None = Field(description="Share of checks that returned usable data (OK or DEGRADED)")
    ok_share: float | None = Field(description="Share of checks with status OK")
    broken_count: int
    no_data_count: int
    latency_mean_ms: float | None
    completeness_mean: float | None


class HourPoint(BaseModel):
    hour_start: dt.datetime
    checks: int
    availability: float | None
    latency_mean_ms: float | None
    latency_max_ms: float | None
    completeness_mean: float | None
    completeness_min: float | None
    failure_kinds: dict[str, int]


class ServiceAccessItem(BaseModel):
    number: int
    name: str
    allowed: bool | None
    http_status: int | None


class MaintenanceItem(BaseModel):
    id: int
    kind: str
    database_code: str
    database_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    created_by: str
    active: bool


class DatabaseDetail(BaseModel):
    code: str
    name: str
    owner: str
    signed: bool
    status: str | None
    failure_kind: str | None
    reason: str | None = Field(description="The pipeline's own text, in English")
    problems: list[str] = Field(description="What is wrong, from the check's figures, in the requested language")
    checked_at: dt.datetime | None
    latency_ms: float | None
    record_count: int | None
    unhealthy_since: dt.datetime | None
    signature_present_ratio: float | None
    signature_valid_ratio: float | None
    fields: list[FieldFigure]
    services: list[ServiceAccessItem]
    windows: list[WindowFigures]
    trend_window: Window
    trend: list[HourPoint]
    open_incidents: list[IncidentItem]
    past_incidents: list[IncidentItem]
    maintenance: list[MaintenanceItem]


class IncidentsView(BaseModel):
    generated_at: dt.datetime
    open_incidents: list[IncidentItem]
    recently_closed: list[IncidentItem]
    maintenance_available: bool = Field(description="False when the store has no maintenance window table")
    maintenance: list[MaintenanceItem]
