"""Reads and idempotent writes of the status store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select
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


def save_check(session: Session, result: CheckResult) -> DatabaseCheck:
    """Store one database check, replacing any earlier row of the same run.

    A cleared and re-run task therefore leaves exactly the rows of its last try.
    """
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


def latest_checks(session: Session, database_codes: Sequence[str] | None = None) -> dict[str, DatabaseCheck]:
    """Return the most recent check of each database, with its fields and access rows loaded."""
    newest = (
        select(DatabaseCheck.database_code, func.max(DatabaseCheck.checked_at).label("checked_at"))
        .group_by(DatabaseCheck.database_code)
        .subquery()
    )
    query = (
        select(DatabaseCheck)
        .join(
            newest,
            (DatabaseCheck.database_code == newest.c.database_code)
            & (DatabaseCheck.checked_at == newest.c.checked_at),
        )
        .options(selectinload(DatabaseCheck.fields), selectinload(DatabaseCheck.access))
    )
    if database_codes is not None:
        query = query.where(DatabaseCheck.database_code.in_(list(database_codes)))
    checks: dict[str, DatabaseCheck] = {}
    for check in session.scalars(query):
        previous = checks.get(check.database_code)
        if previous is None or check.id > previous.id:
            checks[check.database_code] = check
    return checks


def latest_service_statuses(session: Session) -> dict[int, ServiceStatusRow]:
    newest = (
        select(ServiceStatusRow.service_number, func.max(ServiceStatusRow.evaluated_at).label("evaluated_at"))
        .group_by(ServiceStatusRow.service_number)
        .subquery()
    )
    query = select(ServiceStatusRow).join(
        newest,
        (ServiceStatusRow.service_number == newest.c.service_number)
        & (ServiceStatusRow.evaluated_at == newest.c.evaluated_at),
    )
    rows: dict[int, ServiceStatusRow] = {}
    for row in session.scalars(query):
        previous = rows.get(row.service_number)
        if previous is None or row.id > previous.id:
            rows[row.service_number] = row
    return rows


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
