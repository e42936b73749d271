"""Reads and idempotent writes of the status store."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session, selectinload

from integration_monitor.status import ServiceVerdict
from integration_monitor.store.models import (
    DatabaseCheck,
    FieldCheck,
    Incident,
    ServiceAccess,
    ServiceStatusRow,
)
from integration_monitor.store.records import CheckResult

SCOPE_DATABASE = "database"
SCOPE_SERVICE = "service"


def lock_subject(session: Session, scope: str, subject: str) -> None:
    """Make other writers of one database's or service's rows wait until this transaction ends.

    On PostgreSQL this takes a transaction-level advisory lock keyed on the scope and subject,
    so two record tasks of the same database cannot both find no open incident and open one
    each, or both insert the same run's check. SQLite needs no lock: it has one write lock per
    database file, and the callers here write (a delete) before they read.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(f"{scope}:{subject}".encode()).digest()[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def save_check(session: Session, result: CheckResult) -> DatabaseCheck:
    """Store one database check, replacing any earlier row of the same run.

    A cleared and re-run task therefore leaves exactly the rows of its last try.
    """
    lock_subject(session, SCOPE_DATABASE, result.database_code)
    session.execute(
        delete(DatabaseCheck).where(
            DatabaseCheck.database_code == result.database_code, DatabaseCheck.run_id == result.run_id
        )
    )
    session.flush()
    check = DatabaseCheck(
        database_code=result.database_code,
        run_id=result.run_id,
        checked_at=result.checked_at,
        status=result.status,
        failure_kind=result.failure_kind,
        reason=result.reason,
        latency_ms=result.latency_ms,
        http_status=result.http_status,
        attempts=result.attempts,
        record_count=result.record_count,
        duplicate_count=result.duplicate_count,
        signature_present_ratio=result.signature_present_ratio,
        signature_valid_ratio=result.signature_valid_ratio,
        signature_failures=result.signature_failures,
        expectations_evaluated=result.expectations_evaluated,
        expectations_failed=result.expectations_failed,
        fields=[
            FieldCheck(
                field_code=item.field_code,
                present=item.present,
                completeness=item.completeness,
                missing_count=item.missing_count,
                threshold=item.threshold,
                passed=item.passed,
            )
            for item in result.fields
        ],
        access=[
            ServiceAccess(
                service_number=item.service_number,
                allowed=item.allowed,
                failure_kind=item.failure_kind,
                http_status=item.http_status,
            )
            for item in result.access
        ],
    )
    session.add(check)
    session.flush()
    return check


def save_service_verdicts(
    session: Session, run_id: str, evaluated_at: dt.datetime, verdicts: Iterable[ServiceVerdict]
) -> list[ServiceStatusRow]:
    """Store the verdict of every service for one rollup run, replacing a previous try's rows."""
    verdict_list = list(verdicts)
    session.execute(delete(ServiceStatusRow).where(ServiceStatusRow.run_id == run_id))
    rows = [
        ServiceStatusRow(
            service_number=verdict.service_number,
            run_id=run_id,
            evaluated_at=evaluated_at,
            ready=verdict.ready,
            status=verdict.status.value,
            reasons=[reason.as_dict() for reason in verdict.reasons],
        )
        for verdict in verdict_list
    ]
    session.add_all(rows)
    session.flush()
    return rows


def latest_checks(session: Session, database_codes: Iterable[str]) -> dict[str, DatabaseCheck]:
    """Return the newest check of each listed database, with its field and access rows loaded.

    Each database costs one seek on the (database_code, checked_at) index, newest first, so the
    cost does not grow with the history (a GROUP BY over a year of 5-minute checks took 1.5 s).
    """
    ids = [
        check_id
        for code in database_codes
        if (check_id := session.scalar(
            select(DatabaseCheck.id)
            .where(DatabaseCheck.database_code == code)
            .order_by(DatabaseCheck.checked_at.desc(), DatabaseCheck.id.desc())
            .limit(1)
        )) is not None
    ]
    if not ids:
        return {}
    checks = session.scalars(
        select(DatabaseCheck)
        .where(DatabaseCheck.id.in_(ids))
        .options(selectinload(DatabaseCheck.fields), selectinload(DatabaseCheck.access))
    )
    return {check.database_code: check for check in checks}


def latest_service_statuses(session: Session, service_numbers: Iterable[int]) -> dict[int, ServiceStatusRow]:
    """Return the newest rollup verdict of each listed service, one index seek per service."""
    ids = [
        row_id
        for number in service_numbers
        if (row_id := session.scalar(
            select(ServiceStatusRow.id)
            .where(ServiceStatusRow.service_number == number)
            .order_by(ServiceStatusRow.evaluated_at.desc(), ServiceStatusRow.id.desc())
            .limit(1)
        )) is not None
    ]
    if not ids:
        return {}
    rows = session.scalars(select(ServiceStatusRow).where(ServiceStatusRow.id.in_(ids)))
    return {row.service_number: row for row in rows}


def open_incident(session: Session, scope: str, subject: str) -> Incident | None:
    return session.scalars(
        select(Incident)
        .where(Incident.scope == scope, Incident.subject == subject, Incident.closed_at.is_(None))
        .order_by(Incident.opened_at.desc())
        .limit(1)
    ).first()


def open_incidents(session: Session) -> list[Incident]:
    return list(session.scalars(select(Incident).where(Incident.closed_at.is_(None)).order_by(Incident.opened_at)))


class Transition(StrEnum):
    OPENED = "opened"
    CONTINUED = "continued"
    CLOSED = "closed"
    HEALTHY = "healthy"


@dataclass(frozen=True)
class IncidentChange:
    transition: Transition
    incident: Incident | None


def track_incident(
    session: Session,
    *,
    scope: str,
    subject: str,
    healthy: bool,
    status: str,
    failure_kind: str | None,
    reason: str | None,
    at: dt.datetime,
    run_id: str,
) -> IncidentChange:
    """Open, continue or close the incident of one database or service after a new result.

    Re-running the run that opened or closed an incident changes nothing, so retries and
    cleared tasks never open a second incident.
    """
    lock_subject(session, scope, subject)
    incident = open_incident(session, scope, subject)
    if healthy:
        if incident is None:
            return IncidentChange(Transition.HEALTHY, None)
        incident.closed_at = at
        incident.closed_by_run = run_id
        incident.last_seen_at = at
        session.flush()
        return IncidentChange(Transition.CLOSED, incident)

    if incident is not None:
        if incident.opened_by_run == run_id:
            incident.status, incident.failure_kind, incident.reason = status, failure_kind, reason
            session.flush()
            return IncidentChange(Transition.OPENED, incident)
        incident.last_seen_at = at
        incident.status, incident.failure_kind, incident.reason = status, failure_kind, reason
        session.flush()
        return IncidentChange(Transition.CONTINUED, incident)

    closed_by_this_run = session.scalars(
        select(Incident).where(Incident.scope == scope, Incident.subject == subject, Incident.closed_by_run == run_id)
    ).first()
    if closed_by_this_run is not None:
        # A re-run of the run that closed an incident, now failing: reopen that incident.
        closed_by_this_run.closed_at = None
        closed_by_this_run.closed_by_run = None
        closed_by_this_run.last_seen_at = at
        session.flush()
        return IncidentChange(Transition.CONTINUED, closed_by_this_run)

    incident = Incident(
        scope=scope,
        subject=subject,
        status=status,
        failure_kind=failure_kind,
        reason=reason,
        opened_at=at,
        opened_by_run=run_id,
        last_seen_at=at,
    )
    session.add(incident)
    session.flush()
    return IncidentChange(Transition.OPENED, incident)
