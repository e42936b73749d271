"""The alert engine: decide, record and deliver alerts about incidents.

For each new result the engine reads the incident, its checks and its earlier alerts from
the status store, and :func:`integration_monitor.alerts.policy.decide` picks the alert that is
due. The engine records that alert, sends it through every matching channel and records each
delivery. The alert row
is committed before any channel is called, so a task retried after a crash does not send
the same opening alert twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from integration_monitor.alerts.channels import DeliveryResult, deliver
from integration_monitor.alerts.config import AlertingConfig, ChannelConfig, ServiceAlerts, channel_language
from integration_monitor.alerts.messages import (
    SCOPE_DATABASE,
    SCOPE_SERVICE,
    AlertEvent,
    AlertMessage,
    CheckFigures,
    DatabaseRef,
    FieldFigure,
    ServiceBlock,
    ServiceRef,
    render,
)
from integration_monitor.alerts.models import (
    Alert,
    AlertDelivery,
    AlertKind,
    AlertOutcome,
    DeliveryOutcome,
    MaintenanceWindow,
)
from integration_monitor.alerts.policy import IncidentFacts, PriorAlert, decide, opening_delivered
from integration_monitor.alerts.windows import active_windows
from integration_monitor.catalog.models import Catalog
from integration_monitor.i18n import resolve_language
from integration_monitor.status import BlockingReason, BlockKind, DatabaseStatus
from integration_monitor.store.models import DatabaseCheck, Incident, ServiceStatusRow

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class AlertRecord:
    """The alert stored about one incident, with the result of each delivery."""

    alert_id: int
    kind: AlertKind
    scope: str
    subject: str
    outcome: AlertOutcome
    deliveries: tuple[tuple[str, DeliveryOutcome, str | None], ...]


@dataclass(frozen=True)
class _Pending:
    """An alert decided and about to be recorded."""

    incident: Incident
    kind: AlertKind
    event: AlertEvent
    run_id: str
    window: MaintenanceWindow | None  # the window active at the event, if any
    suppressed: bool
    suppressing_window_id: int | None
    owner_codes: frozenset[str]


class AlertEngine:
    def __init__(
        self,
        config: AlertingConfig,
        catalog: Catalog,
        session_factory: Callable[[], Session],
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.session_factory = session_factory
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    # Database incidents

    def handle_database_result(
        self, database_code: str, incident_id: int, at: dt.datetime, run_id: str, context: Mapping[str, Any]
    ) -> AlertRecord | None:
        """Record and send the alert that a database's new check calls for, if any."""
        with self.session_factory() as session:
            _lock_incident(session, incident_id)
            incident = session.get(Incident, incident_id)
            if incident is None:
                log.warning("Incident %s of %s not found; no alert decided", incident_id, database_code)
                return None
            pending = self._decide_database(session, incident, database_code, at, run_id)
            if pending is None:
                return None
            alert = self._record_alert(session, pending)
        return self._dispatch(alert.id, pending, context)

    def _decide_database(
        self, session: Session, incident: Incident, database_code: str, at: dt.datetime, run_id: str
    ) -> _Pending | None:
        closed = incident.closed_at is not None
        end = incident.closed_at if closed else at
        consecutive = session.scalar(
            select(func.count(DatabaseCheck.id)).where(
                DatabaseCheck.database_code == database_code,
                DatabaseCheck.checked_at >= incident.opened_at,
                DatabaseCheck.checked_at <= at,
                DatabaseCheck.status != DatabaseStatus.OK.value,
            )
        ) or 0
        prior = _prior_alerts(session, incident.id)
        window = active_windows(session, [database_code], at).get(database_code)
        facts = IncidentFacts(closed, consecutive, at, window.id if window else None)
        kind = decide(facts, prior, failure_threshold=self.config.failure_threshold,
                      reminder_interval=self.config.reminder_interval)
        if kind is None:
            log.info("No alert for %s incident %s (%s consecutive non-OK checks, %s earlier alerts)",
                     database_code, incident.id, consecutive, len(prior))
            return None

        database = self._database_ref(database_code)
        newest = session.scalars(
            select(DatabaseCheck).where(DatabaseCheck.database_code == database_code, DatabaseCheck.run_id == run_id)
        ).first()
        event = AlertEvent(
            kind=kind,
            scope=SCOPE_DATABASE,
            status=incident.status,
            failure_kind=incident.failure_kind,
            opened_at=incident.opened_at,
            at=at,
            closed_at=incident.closed_at,
            consecutive_failures=consecutive,
            databases=(database,),
            services=self._services_reading(database_code),
            dashboard_url=self.config.resolved_dashboard_url(),
            figures=_figures(newest) if newest is not None and not closed else None,
            past_failure_kinds=_failure_kinds_between(session, database_code, incident.opened_at, end) if closed else (),
        )
        return _Pending(incident, kind, event, run_id, window, *_suppression(kind, window, prior),
                        owner_codes=frozenset({database.owner_code}))

    # Service incidents

    def handle_service_changes(self, changes: Iterable[Mapping[str, Any]], run_id: str,
                               context: Mapping[str, Any]) -> list[AlertRecord]:
        """Alert about services whose blocking problems no open database incident covers.

        A database incident alert already lists every service that reads the database, so a
        service alerts only for a problem in a database without an open incident. Reasons of
        kind ``not_checked`` never alert.
        """
        if self.config.service_alerts is ServiceAlerts.OFF:
            return []
        records: list[AlertRecord] = []
        for change in changes:
            if change.get("transition") not in ("opened", "continued", "closed"):
                continue
            number = int(change["service_number"])
            with self.session_factory() as session:
                pending = self._decide_service(session, number, run_id, change["transition"] == "closed")
                if pending is None:
                    continue
                alert = self._record_alert(session, pending)
            records.append(self._dispatch(alert.id, pending, context))
        return records

    def _decide_service(self, session: Session, number: int, run_id: str, closed: bool) -> _Pending | None:
        incident = _service_incident(session, number, run_id, closed)
        if incident is None:
            return None
        prior = _prior_alerts(session, incident.id)

        if closed:
            at = incident.closed_at or self.clock()
            databases = _databases_of_last_alert(session, incident.id)
            blocks: list[BlockingReason] = []
            consecutive = 0
        else:
            row = session.scalars(
                select(ServiceStatusRow).where(ServiceStatusRow.service_number == number, ServiceStatusRow.run_id == run_id)
            ).first()
            if row is None:
                return None
            at = row.evaluated_at
            blocks = _uncovered_blocks(session, row)
            if not blocks:
                return None
            databases = sorted({block.database for block in blocks})
            consecutive = session.scalar(
                select(func.count(ServiceStatusRow.id)).where(
                    ServiceStatusRow.service_number == number,
                    ServiceStatusRow.evaluated_at >= incident.opened_at,
                    ServiceStatusRow.evaluated_at <= at,
                    ServiceStatusRow.ready.is_(False),
                )
            ) or 0

        windows = active_windows(session, databases, at)
        # The service is silenced only when every database it alerts about is silenced.
        window = next(iter(windows.values())) if databases and len(windows) == len(set(databases)) else None
        facts = IncidentFacts(closed, consecutive, at, window.id if window else None)
        kind = decide(facts, prior, failure_threshold=self.config.failure_threshold,
                      reminder_interval=self.config.reminder_interval)
        if kind is None:
            return None

        refs = {code: self._database_ref(code) for code in databases if self._known_database(code)}
        service = self.catalog.service(number)
        event = AlertEvent(
            kind=kind,
            scope=SCOPE_SERVICE,
            status=incident.status,
            failure_kind=None,
            opened_at=incident.opened_at,
            at=at,
            closed_at=incident.closed_at,
            consecutive_failures=consecutive,
            databases=tuple(refs.values()),
            services=(ServiceRef(service.number, service.name, service.name_en),),
            dashboard_url=self.config.resolved_dashboard_url(),
            blocks=tuple(ServiceBlock(refs[block.database], block.kind.value) for block in blocks if block.database in refs),
        )
        return _Pending(incident, kind, event, run_id, window, *_suppression(kind, window, prior),
                        owner_codes=frozenset(ref.owner_code for ref in refs.values()))

    # Recording and delivery

    def _record_alert(self, session: Session, pending: _Pending) -> Alert:
        event = pending.event
        default_message = render(event, resolve_language(None))
        suppressed = pending.suppressed
        alert = Alert(
            incident_id=pending.incident.id,
            scope=event.scope,
            subject=pending.incident.subject,
            kind=pending.kind.value,
            run_id=pending.run_id,
            event_at=event.at,
            created_at=self.clock(),
            status=event.status,
            failure_kind=event.failure_kind,
            consecutive_failures=event.consecutive_failures,
            databases=[database.code for database in event.databases],
            affected_services=[service.number for service in event.services],
            outage_seconds=event.outage.total_seconds() if pending.kind is AlertKind.RECOVERED else None,
            suppressed=suppressed,
            maintenance_id=pending.suppressing_window_id,
            outcome=AlertOutcome.SUPPRESSED.value if suppressed else AlertOutcome.NO_CHANNEL.value,
            title=default_message.title,
        )
        session.add(alert)
        session.commit()
        return alert

    def _dispatch(self, alert_id: int, pending: _Pending, context: Mapping[str, Any]) -> AlertRecord:
        event = pending.event
        channels = self._matching_channels(pending)
        results: list[tuple[ChannelConfig, str, DeliveryResult]] = []
        if pending.suppressed:
            detail = _suppression_detail(pending)
            results = [(channel, channel_language(channel), DeliveryResult(DeliveryOutcome.SUPPRESSED, detail, None))
                       for channel in channels]
        else:
            messages: dict[str, AlertMessage] = {}
            for channel in channels:
                language = channel_language(channel)
                if language not in messages:
                    messages[language] = render(event, language)
                results.append((channel, language, deliver(channel, messages[language], dict(context))))

        outcome = _outcome(pending.suppressed, [result for _, _, result in results])
        with self.session_factory() as session:
            alert = session.get(Alert, alert_id)
            assert alert is not None
            attempted_at = self.clock()
            for channel, language, result in results:
                alert.deliveries.append(AlertDelivery(
                    channel=channel.name,
                    channel_type=channel.type.value,
                    conn_id=channel.conn_id,
                    language=language,
                    outcome=result.outcome.value,
                    detail=result.detail,
                    attempted_at=attempted_at,
                    duration_ms=result.duration_ms,
                ))
            alert.outcome = outcome.value
            session.commit()

        log.info("Alert %s (%s %s %s, incident %s): %s through %d channels",
                 alert_id, pending.kind.value, event.scope, pending.incident.subject, pending.incident.id,
                 outcome.value, len(results))
        return AlertRecord(
            alert_id=alert_id,
            kind=pending.kind,
            scope=event.scope,
            subject=pending.incident.subject,
            outcome=outcome,
            deliveries=tuple((channel.name, result.outcome, result.detail) for channel, _, result in results),
        )

    def _matching_channels(self, pending: _Pending) -> list[ChannelConfig]:
        database_codes = {database.code for database in pending.event.databases}
        return [channel for channel in self.config.channels
                if channel.matches(set(pending.owner_codes), database_codes, pending.kind)]

    # Catalog lookups

    def _known_database(self, code: str) -> bool:
        return any(database.code == code for database in self.catalog.databases)

    def _database_ref(self, code: str) -> DatabaseRef:
        database = self.catalog.database(code)
        owner = self.catalog.owner(database.owner)
        return DatabaseRef(code, database.name, database.name_en, owner.code, owner.name, owner.name_en)

    def _services_reading(self, database_code: str) -> tuple[ServiceRef, ...]:
        return tuple(ServiceRef(service.number, service.name, service.name_en)
                     for service in sorted(self.catalog.services_reading(database_code), key=lambda item: item.number))


def _lock_incident(session: Session, incident_id: int) -> None:
    """Make another decision about the same incident wait until this session ends.

    The update changes nothing, but it takes the incident's row lock on PostgreSQL and the
    database's write lock on SQLite. Without it, two record tasks of one database that finish
    together both find no opening alert and both send one.
    """
    session.execute(update(Incident).where(Incident.id == incident_id).values(last_seen_at=Incident.last_seen_at))


def _prior_alerts(session: Session, incident_id: int) -> list[PriorAlert]:
    rows = session.scalars(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.event_at, Alert.id))
    return [PriorAlert(AlertKind(row.kind), row.event_at, row.suppressed, row.maintenance_id) for row in rows]


def _suppression(kind: AlertKind, window: MaintenanceWindow | None,
                 prior: Sequence[PriorAlert]) -> tuple[bool, int | None]:
    """Return whether the alert is suppressed and the id of the window that suppresses it.

    A recovery notice about an incident whose opening alert was never delivered is
    suppressed too, by the window that suppressed the opening alert.
    """
    if window is not None:
        return True, window.id
    if kind is AlertKind.RECOVERED and not opening_delivered(prior):
        openings = [alert for alert in prior if alert.kind is AlertKind.OPENED]
        return True, openings[-1].maintenance_id if openings else None
    return False, None


def _suppression_detail(pending: _Pending) -> str:
    window = pending.window
    if window is not None:
        return f"{window.kind} window {window.id} until {window.effective_end.isoformat()}: {window.reason}"
    return "the incident's opening alert was suppressed, so its recovery is not sent"


def _outcome(suppressed: bool, results: Sequence[DeliveryResult]) -> AlertOutcome:
    if suppressed:
        return AlertOutcome.SUPPRESSED
    if not results:
        return AlertOutcome.NO_CHANNEL
    sent = sum(1 for result in results if result.outcome is DeliveryOutcome.SENT)
    if sent == len(results):
        return AlertOutcome.SENT
    return AlertOutcome.PARTIAL if sent else AlertOutcome.FAILED


def _figures(check: DatabaseCheck) -> CheckFigures:
    failing = tuple(FieldFigure(row.field_code, row.completeness, row.threshold)
                    for row in sorted(check.fields, key=lambda row: row.field_code) if row.present and not row.passed)
    absent = tuple(sorted(row.field_code for row in check.fields if not row.present))
    denied = tuple(sorted(row.service_number for row in check.access if not row.allowed))
    return CheckFigures(
        record_count=check.record_count,
        http_status=check.http_status,
        attempts=check.attempts,
        latency_ms=check.latency_ms,
        absent_fields=absent,
        failing_fields=failing,
        signature_present_ratio=check.signature_present_ratio,
        signature_valid_ratio=check.signature_valid_ratio,
        denied_services=denied,
    )


def _failure_kinds_between(session: Session, database_code: str, start: dt.datetime, end: dt.datetime) -> tuple[str, ...]:
    kinds = session.scalars(
        select(DatabaseCheck.failure_kind).where(
            DatabaseCheck.database_code == database_code,
            DatabaseCheck.checked_at >= start,
            DatabaseCheck.checked_at < end,
            DatabaseCheck.failure_kind.is_not(None),
        ).distinct()
    )
    return tuple(sorted(kind for kind in kinds if kind))


def _service_incident(session: Session, number: int, run_id: str, closed: bool) -> Incident | None:
    from integration_monitor.store.repository import SCOPE_SERVICE as STORE_SCOPE_SERVICE
    from integration_monitor.store.repository import open_incident

    if not closed:
        return open_incident(session, STORE_SCOPE_SERVICE, str(number))
    return session.scalars(
        select(Incident).where(
            Incident.scope == STORE_SCOPE_SERVICE, Incident.subject == str(number), Incident.closed_by_run == run_id
        )
    ).first()


def _uncovered_blocks(session: Session, row: ServiceStatusRow) -> list[BlockingReason]:
    """Return the service's blocking reasons whose database has no open incident."""
    from integration_monitor.store.repository import SCOPE_DATABASE as STORE_SCOPE_DATABASE

    open_databases = set(session.scalars(
        select(Incident.subject).where(Incident.scope == STORE_SCOPE_DATABASE, Incident.closed_at.is_(None))
    ))
    blocks = [BlockingReason.from_dict(item) for item in row.reasons or []]
    return [block for block in blocks
            if block.kind is not BlockKind.NOT_CHECKED and block.database not in open_databases]


def _databases_of_last_alert(session: Session, incident_id: int) -> list[str]:
    last = session.scalars(
        select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.event_at.desc(), Alert.id.desc()).limit(1)
    ).first()
    return list(last.databases) if last is not None else []
