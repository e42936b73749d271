"""The rollup's work: decide, for every service, whether it can run end to end now."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from integration_monitor.catalog.models import Catalog, Service
from integration_monitor.fetch.errors import FailureKind
from integration_monitor.status import BlockingReason, BlockKind, DatabaseStatus, ServiceVerdict
from integration_monitor.store.models import DatabaseCheck

log = logging.getLogger(__name__)


def evaluate_service(service: Service, catalog: Catalog, checks: Mapping[str, DatabaseCheck]) -> ServiceVerdict:
    from integration_monitor.thresholds import thresholds_for

    reasons: list[BlockingReason] = []
    for entry in service.databases:
        check = checks.get(entry.database)
        if check is None:
            reasons.append(BlockingReason(entry.database, BlockKind.NOT_CHECKED, detail="no check recorded yet"))
            continue
        if check.status == DatabaseStatus.BROKEN.value:
            reasons.append(BlockingReason(entry.database, BlockKind.DATABASE_BROKEN,
                                          failure_kind=check.failure_kind, detail=check.reason))
            continue
        if check.status == DatabaseStatus.NO_DATA.value:
            reasons.append(BlockingReason(entry.database, BlockKind.NO_DATA,
                                          failure_kind=check.failure_kind, detail=check.reason))
            continue
        if check.status == DatabaseStatus.DEGRADED.value and check.failure_kind == FailureKind.INVALID_PAYLOAD.value:
            # Only repeated JSON keys degrade a database with this kind (record_step._classify).
            reasons.append(BlockingReason(entry.database, BlockKind.PAYLOAD_UNTRUSTED,
                                          failure_kind=check.failure_kind, detail=check.reason))
            continue

        denied = [row for row in check.access if row.service_number == service.number and not row.allowed]
        if denied:
            reasons.append(BlockingReason(entry.database, BlockKind.ACCESS_DENIED,
                                          failure_kind=denied[0].failure_kind,
                                          detail=f"HTTP {denied[0].http_status}"))
            continue

        by_code = {row.field_code: row for row in check.fields}
        required = entry.required_fields
        missing = tuple(code for code in required if code in by_code and not by_code[code].present)
        incomplete = tuple(
            code for code in required if code in by_code and by_code[code].present and not by_code[code].passed
        )
        if missing:
            reasons.append(BlockingReason(entry.database, BlockKind.FIELDS_MISSING, fields=missing,
                                          failure_kind=check.failure_kind))
        if incomplete:
            reasons.append(BlockingReason(entry.database, BlockKind.FIELDS_INCOMPLETE, fields=incomplete))

        if catalog.database(entry.database).signed:
            limits = thresholds_for(entry.database)
            if check.signature_present_ratio is not None and check.signature_present_ratio < limits.signature_present:
                reasons.append(BlockingReason(entry.database, BlockKind.SIGNATURE_MISSING,
                                              detail=f"{check.signature_present_ratio:.1%}"))
            elif check.signature_valid_ratio is not None and check.signature_valid_ratio < limits.signature_valid:
                reasons.append(BlockingReason(entry.database, BlockKind.SIGNATURE_INVALID,
                                              detail=f"{check.signature_valid_ratio:.1%}"))
    return ServiceVerdict(service.number, tuple(reasons))


def evaluate_services(catalog: Catalog, checks: Mapping[str, DatabaseCheck]) -> list[ServiceVerdict]:
    return [evaluate_service(service, catalog, checks) for service in catalog.services]


def run_rollup(catalog: Catalog, run_id: str, evaluated_at: dt.datetime, store_url: str | None = None) -> list[dict]:
    """Evaluate every service from the latest checks, store the verdicts and track incidents."""
    from integration_monitor.store.engine import session_factory
    from integration_monitor.store.repository import (
        SCOPE_SERVICE,
        latest_checks,
        save_service_verdicts,
        track_incident,
    )

    changes: list[dict] = []
    with session_factory(store_url).begin() as session:
        checks = latest_checks(session, [database.code for database in catalog.databases])
        verdicts = evaluate_services(catalog, checks)
        save_service_verdicts(session, run_id, evaluated_at, verdicts)
        for verdict in verdicts:
            kinds = sorted({reason.kind.value for reason in verdict.reasons})
            change = track_incident(
                session,
                scope=SCOPE_SERVICE,
                subject=str(verdict.service_number),
                healthy=verdict.ready,
                status=verdict.status.value,
                failure_kind=kinds[0] if kinds else None,
                reason="; ".join(f"{reason.database}: {reason.kind.value}" for reason in verdict.reasons) or None,
                at=evaluated_at,
                run_id=run_id,
            )
            changes.append({"service_number": verdict.service_number, "ready": verdict.ready,
                            "transition": change.transition.value})
    ready = sum(1 for item in changes if item["ready"])
    log.info("Rollup %s: %d of %d services end-to-end ready", run_id, ready, len(changes))
    return changes
