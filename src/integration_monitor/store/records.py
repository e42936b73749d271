"""Plain records that cross from the pipeline's tasks into the store.

They hold counts, ratios and short reasons only; the pipeline builds them in the task that
saw the records, so nothing personal reaches XCom or the store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldResult:
    field_code: str
    present: bool  # the field appeared as a key in at least one record
    completeness: float
    missing_count: int
    threshold: float
    passed: bool


@dataclass(frozen=True)
class AccessResult:
    service_number: int
    allowed: bool
    failure_kind: str | None = None
    http_status: int | None = None


@dataclass(frozen=True)
class CheckResult:
    """Everything the store keeps about one poll of one national database."""

    database_code: str
    run_id: str
    checked_at: dt.datetime
    status: str
    failure_kind: str | None = None
    reason: str | None = None
    latency_ms: float | None = None
    http_status: int | None = None
    attempts: int = 1
    record_count: int = 0
    duplicate_count: int = 0
    signature_present_ratio: float | None = None
    signature_valid_ratio: float | None = None
    signature_failures: dict[str, int] | None = None
    expectations_evaluated: int | None = None
    expectations_failed: int | None = None
    fields: tuple[FieldResult, ...] = field(default_factory=tuple)
    access: tuple[AccessResult, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checked_at"] = self.checked_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        values = dict(data)
        values["checked_at"] = dt.datetime.fromisoformat(values["checked_at"])
        values["fields"] = tuple(FieldResult(**item) for item in values.get("fields") or ())
        values["access"] = tuple(AccessResult(**item) for item in values.get("access") or ())
        return cls(**values)
