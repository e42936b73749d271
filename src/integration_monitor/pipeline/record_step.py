"""The record task's work: turn a measurement or a failure into a stored check and incident."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from integration_monitor.fetch import FailureKind
from integration_monitor.pipeline.measurement import FetchFailure, Measurement
from integration_monitor.status import DatabaseStatus
from integration_monitor.store.records import AccessResult, CheckResult, FieldResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedCheck:
    result: CheckResult
    incident_transition: str
    incident_id: int | None


def result_from_measurement(
    measurement: Measurement, validation: dict[str, Any], run_id: str, checked_at: dt.datetime
) -> CheckResult:
    fields = tuple(
        FieldResult(
            field_code=code,
            present=code not in measurement.absent_fields,
            completeness=float(figures["completeness"]),
            missing_count=int(figures["missing_count"]),
            threshold=float(figures["threshold"]),
            passed=bool(figures["passed"]),
        )
        for code, figures in validation["fields"].items()
    )
    access = tuple(AccessResult(item.service_number, item.allowed, item.failure_kind, item.http_status)
                   for item in measurement.access)
    status, failure_kind, reason = _classify(measurement, validation, fields, access)
    signature_present = validation.get("signature_present") or {}
    signature_valid = validation.get("signature_valid") or {}
    return CheckResult(
        database_code=measurement.database_code,
        run_id=run_id,
        checked_at=checked_at,
        status=status.value,
        failure_kind=failure_kind,
        reason=reason,
        latency_ms=measurement.latency_ms,
        http_status=measurement.http_status,
        attempts=measurement.attempts,
        record_count=measurement.record_count,
        duplicate_count=measurement.duplicate_count,
        signature_present_ratio=signature_present.get("ratio"),
        signature_valid_ratio=signature_valid.get("ratio"),
        signature_failures=measurement.signature_failures or None,
        expectations_evaluated=validation.get("evaluated"),
        expectations_failed=validation.get("failed"),
        fields=fields,
        access=access,
    )


def _classify(
    measurement: Measurement,
    validation: dict[str, Any],
    fields: tuple[FieldResult, ...],
    access: tuple[AccessResult, ...],
) -> tuple[DatabaseStatus, str | None, str | None]:
    if measurement.record_count == 0:
        return DatabaseStatus.NO_DATA, FailureKind.EMPTY.value, "the endpoint returned no records"

    problems: list[str] = []
    failure_kind: str | None = None
    if measurement.duplicate_keys:
        # A consumer that keeps the first value of a repeated key reads a value that the
        # signature check did not see, so the batch cannot be trusted as it is. This kind
        # comes first because the rollup blocks every service of a database with it.
        failure_kind = FailureKind.INVALID_PAYLOAD.value
        problems.append(f"{measurement.duplicate_keys} duplicate JSON keys in the records, last value kept")
    if measurement.absent_fields:
        failure_kind = failure_kind or FailureKind.SCHEMA_DRIFT.value
        problems.append(f"{len(measurement.absent_fields)} required fields absent from every record")
    failed_fields = [item.field_code for item in fields if not item.passed]
    if failed_fields:
        problems.append(f"{len(failed_fields)} fields below their completeness threshold")
    for key, label in (("signature_present", "signature presence"), ("signature_valid", "signature validity")):
        figures = validation.get(key)
        if figures and not figures["passed"]:
            problems.append(f"{label} {figures['ratio']:.1%} below {figures['threshold']:.0%}")
    denied = [item.service_number for item in access if not item.allowed]
    if denied:
        problems.append("access refused for services " + ", ".join(str(number) for number in denied))
        failure_kind = failure_kind or FailureKind.UNAUTHORIZED.value
    if not validation.get("row_count_passed", True):
        problems.append("fewer records than the minimum")
    duplicates = validation.get("duplicates")
    if duplicates and not duplicates["passed"]:
        # Exact repeats usually come from overlapping pages: the batch misses as many other records.
        problems.append(f"{duplicates['count']} repeated records ({duplicates['share']:.1%}) above "
                        f"{duplicates['threshold']:.0%}")

    if problems:
        return DatabaseStatus.DEGRADED, failure_kind, "; ".join(problems)
    return DatabaseStatus.OK, None, None


def result_from_failure(failure: FetchFailure, run_id: str, checked_at: dt.datetime) -> CheckResult:
    status = DatabaseStatus.NO_DATA if failure.failure_kind == FailureKind.EMPTY.value else DatabaseStatus.BROKEN
    return CheckResult(
        database_code=failure.database_code,
        run_id=run_id,
        checked_at=checked_at,
        status=status.value,
        failure_kind=failure.failure_kind,
        reason=failure.reason,
        latency_ms=failure.latency_ms,
        http_status=failure.http_status,
        attempts=failure.attempts,
        access=tuple(AccessResult(item.service_number, item.allowed, item.failure_kind, item.http_status)
                     for item in failure.access),
    )


def record_check(result: CheckResult, store_url: str | None = None) -> RecordedCheck:
    """Write the check and update the database's incident in one transaction."""
    from integration_monitor.store.engine import session_factory
    from integration_monitor.store.repository import SCOPE_DATABASE, save_check, track_incident

    with session_factory(store_url).begin() as session:
        save_check(session, result)
        change = track_incident(
            session,
            scope=SCOPE_DATABASE,
            subject=result.database_code,
            healthy=result.status == DatabaseStatus.OK.value,
            status=result.status,
            failure_kind=result.failure_kind,
            reason=result.reason,
            at=result.checked_at,
            run_id=result.run_id,
        )
        incident_id = change.incident.id if change.incident is not None else None
    log.info(
        "Recorded %s run %s: %s%s, incident %s",
        result.database_code, result.run_id, result.status,
        f" ({result.failure_kind})" if result.failure_kind else "", change.transition.value,
    )
    return RecordedCheck(result, change.transition.value, incident_id)
