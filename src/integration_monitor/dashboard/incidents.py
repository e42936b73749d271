"""Incidents and maintenance windows as the dashboard lists them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from integration_monitor.dashboard.context import ViewContext
from integration_monitor.dashboard.schemas import IncidentItem, IncidentsView, MaintenanceItem
from integration_monitor.store.models import Incident
from integration_monitor.store.repository import SCOPE_DATABASE, SCOPE_SERVICE, open_incidents

log = logging.getLogger(__name__)

PAST_INCIDENT_LIMIT = 20
RECENTLY_CLOSED = dt.timedelta(days=7)


def incident_item(ctx: ViewContext, incident: Incident) -> IncidentItem:
    end = incident.closed_at or ctx.now
    return IncidentItem(
        id=incident.id,
        scope=incident.scope,
        subject=incident.subject,
        subject_name=subject_name(ctx, incident.scope, incident.subject),
        status=incident.status,
        failure_kind=incident.failure_kind,
        reason=incident.reason,
        opened_at=incident.opened_at,
        last_seen_at=incident.last_seen_at,
        closed_at=incident.closed_at,
        duration_seconds=max(0.0, (end - incident.opened_at).total_seconds()),
    )


def subject_name(ctx: ViewContext, scope: str, subject: str) -> str:
    try:
        if scope == SCOPE_SERVICE:
            return f"{subject}. {ctx.service_name(int(subject))}"
        return ctx.database_name(subject)
    except (KeyError, ValueError):
        return subject


def open_incident_starts(session: Session) -> dict[tuple[str, str], dt.datetime]:
    """Return the opening time of each subject's open incident, keyed by (scope, subject)."""
    return {(incident.scope, incident.subject): incident.opened_at for incident in open_incidents(session)}


def subject_incidents(
    ctx: ViewContext, session: Session, scope: str, subject: str
) -> tuple[list[IncidentItem], list[IncidentItem]]:
    """Return a subject's open incidents and its latest closed ones, newest first."""
    base = select(Incident).where(Incident.scope == scope, Incident.subject == subject)
    current = session.scalars(base.where(Incident.closed_at.is_(None)).order_by(Incident.opened_at.desc()))
    past = session.scalars(
        base.where(Incident.closed_at.is_not(None)).order_by(Incident.opened_at.desc()).limit(PAST_INCIDENT_LIMIT)
    )
    return [incident_item(ctx, item) for item in current], [incident_item(ctx, item) for item in past]


def incidents_view(ctx: ViewContext) -> IncidentsView:
    with ctx.factory() as session:
        current = [incident_item(ctx, item) for item in open_incidents(session)]
        closed = session.scalars(
            select(Incident)
            .where(Incident.closed_at >= ctx.now - RECENTLY_CLOSED)
            .order_by(Incident.closed_at.desc())
        )
        recently_closed = [incident_item(ctx, item) for item in closed]
    current.sort(key=lambda item: (item.scope != SCOPE_SERVICE, item.opened_at))
    available, windows = maintenance_windows(ctx)
    return IncidentsView(
        generated_at=ctx.now,
        open_incidents=current,
        recently_closed=recently_closed,
        maintenance_available=available,
        maintenance=windows,
    )


def maintenance_windows(ctx: ViewContext, database_codes: Iterable[str] | None = None) -> tuple[bool, list[MaintenanceItem]]:
    """Return whether the store has maintenance windows, and the current and future ones.

    The table belongs to the alerts package and its migration. Without either, the dashboard
    shows that windows are unavailable instead of failing.
    """
    try:
        from integration_monitor.alerts.models import MaintenanceWindow
    except ImportError:
        return False, []

    query = select(MaintenanceWindow).where(MaintenanceWindow.ends_at > ctx.now)
    if database_codes is not None:
        query = query.where(MaintenanceWindow.database_code.in_(list(database_codes)))
    try:
        with ctx.factory() as session:
            windows = list(session.scalars(query.order_by(MaintenanceWindow.starts_at, MaintenanceWindow.id)))
    except (OperationalError, ProgrammingError) as error:
        log.info("Maintenance windows unavailable: %s", error.orig)
        return False, []

    items = []
    for window in windows:
        if window.effective_end <= ctx.now:
            continue
        items.append(MaintenanceItem(
            id=window.id,
            kind=window.kind,
            database_code=window.database_code,
            database_name=subject_name(ctx, SCOPE_DATABASE, window.database_code),
            starts_at=window.starts_at,
            ends_at=window.effective_end,
            reason=window.reason,
            created_by=window.created_by,
            active=window.is_active(ctx.now),
        ))
    return True, items
