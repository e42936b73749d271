"""Retention of the status store: raw rows for a number of days, hourly aggregates for good.

At a 5-minute interval the raw tables grow by about 1.7 million database checks, 2.6
million service verdicts and 60 million field rows a year (16 databases, 25 services, 586
checked fields). The dashboard's history views read the hourly tables of
``integration_monitor.dashboard.aggregate`` and only the last 24 hours from raw rows, so raw
rows older than the retention period can go once they are summed:

1. the hourly tables are brought up to date;
2. raw checks (with their field and service-access rows) and raw verdicts that are older
   than the cut-off *and* already summed into the hourly tables are deleted, in batches;
3. field and service-access rows go sooner, after ``keep_detail``: only the newest check of
   a database is read with them (status matrix, service rollup, alerts), and they are most
   of the store (about 13 MiB a day on SQLite, against 1 MiB for checks and verdicts);
4. the newest check of each database and the newest verdict of each service stay, whatever
   their age, with their rows, so the matrix still shows a database that is no longer polled.

Incidents, alerts and the hourly tables are kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from integration_monitor.pipeline.settings import MonitoringSettings
from integration_monitor.store.models import DatabaseCheck, FieldCheck, ServiceAccess, ServiceStatusRow

log = logging.getLogger(__name__)

# The defaults of include/monitoring.yaml's keep_days and keep_detail_days.
DEFAULT_KEEP_DAYS = float(MonitoringSettings.model_fields["keep_days"].default)
DEFAULT_KEEP_DETAIL_DAYS = float(MonitoringSettings.model_fields["keep_detail_days"].default)
DELETE_BATCH = 20_000


@dataclass(frozen=True)
class CompactResult:
    cutoff: dt.datetime
    checks_deleted: int
    field_rows_deleted: int
    access_rows_deleted: int
    verdicts_deleted: int
    seconds: float


def compact(
    factory: sessionmaker[Session],
    keep: dt.timedelta,
    now: dt.datetime | None = None,
    batch: int = DELETE_BATCH,
    keep_detail: dt.timedelta | None = None,
) -> CompactResult:
    """Delete raw rows older than ``now - keep`` that the hourly tables already hold.

    Field and service-access rows go after ``keep_detail`` (default: ``keep``), which must not
    be longer than ``keep``.
    """
    from integration_monitor.dashboard.aggregate import SOURCE_CHECKS, SOURCE_VERDICTS, refresh_aggregates
    from integration_monitor.dashboard.models import AggregationState

    keep_detail = keep if keep_detail is None else keep_detail
    if keep <= dt.timedelta(0) or keep_detail <= dt.timedelta(0):
        raise ValueError(f"the retention periods must be positive, got {keep} and {keep_detail}")
    if keep_detail > keep:
        raise ValueError(f"field rows cannot be kept longer ({keep_detail}) than their checks ({keep})")
    began = time.perf_counter()
    moment = now or dt.datetime.now(dt.UTC)
    cutoff, detail_cutoff = moment - keep, moment - keep_detail

    refreshed = refresh_aggregates(factory)
    if not refreshed.complete:
        raise RuntimeError("the hourly tables could not be brought up to date; nothing was deleted")
    with factory() as session:
        summed = {state.source: state.last_id for state in session.scalars(select(AggregationState))}
        newest_checks = set(session.scalars(
            select(func.max(DatabaseCheck.id)).group_by(DatabaseCheck.database_code)))
        newest_verdicts = set(session.scalars(
            select(func.max(ServiceStatusRow.id)).group_by(ServiceStatusRow.service_number)))

    checks, fields, access = _delete_checks(factory, cutoff, summed.get(SOURCE_CHECKS, 0), newest_checks, batch)
    if detail_cutoff > cutoff:
        more_fields, more_access = _delete_details(factory, detail_cutoff, summed.get(SOURCE_CHECKS, 0),
                                                   newest_checks, batch)
        fields, access = fields + more_fields, access + more_access
    verdicts = _delete_rows(factory, ServiceStatusRow, ServiceStatusRow.evaluated_at, cutoff,
                            summed.get(SOURCE_VERDICTS, 0), newest_verdicts, batch)
    result = CompactResult(cutoff, checks, fields, access, verdicts, time.perf_counter() - began)
    log.info("Store compacted before %s: %d checks, %d field rows, %d access rows, %d verdicts deleted in %.1f s",
             cutoff.isoformat(), checks, fields, access, verdicts, result.seconds)
    return result


def _old_ids(session: Session, model: type, time_column: object, cutoff: dt.datetime, summed_up_to: int,
             keep_ids: set[int], batch: int) -> list[int]:
    rows = session.scalars(
        select(model.id).where(time_column < cutoff, model.id <= summed_up_to).order_by(model.id).limit(batch + len(keep_ids))
    )
    return [row_id for row_id in rows if row_id not in keep_ids][:batch]


def _delete_checks(factory: sessionmaker[Session], cutoff: dt.datetime, summed_up_to: int, keep_ids: set[int],
                   batch: int) -> tuple[int, int, int]:
    checks = fields = access = 0
    while True:
        with factory.begin() as session:
            ids = _old_ids(session, DatabaseCheck, DatabaseCheck.checked_at, cutoff, summed_up_to, keep_ids, batch)
            if not ids:
                return checks, fields, access
            # Children first: SQLite cascades only with foreign keys switched on for the connection.
            fields += session.execute(delete(FieldCheck).where(FieldCheck.check_id.in_(ids))).rowcount
            access += session.execute(delete(ServiceAccess).where(ServiceAccess.check_id.in_(ids))).rowcount
            checks += session.execute(delete(DatabaseCheck).where(DatabaseCheck.id.in_(ids))).rowcount


def _delete_details(factory: sessionmaker[Session], cutoff: dt.datetime, summed_up_to: int, keep_ids: set[int],
                    batch: int) -> tuple[int, int]:
    """Delete the field and access rows of checks older than ``cutoff``, keeping the checks."""
    fields = access = 0
    last_id = 0
    while True:
        with factory.begin() as session:
            ids = [row_id for row_id in session.scalars(
                select(DatabaseCheck.id)
                .where(DatabaseCheck.checked_at < cutoff, DatabaseCheck.id <= summed_up_to, DatabaseCheck.id > last_id)
                .order_by(DatabaseCheck.id).limit(batch)
            )]
            if not ids:
                return fields, access
            last_id = ids[-1]
            ids = [row_id for row_id in ids if row_id not in keep_ids]
            fields += session.execute(delete(FieldCheck).where(FieldCheck.check_id.in_(ids))).rowcount
            access += session.execute(delete(ServiceAccess).where(ServiceAccess.check_id.in_(ids))).rowcount


def _delete_rows(factory: sessionmaker[Session], model: type, time_column: object, cutoff: dt.datetime,
                 summed_up_to: int, keep_ids: set[int], batch: int) -> int:
    deleted = 0
    while True:
        with factory.begin() as session:
            ids = _old_ids(session, model, time_column, cutoff, summed_up_to, keep_ids, batch)
            if not ids:
                return deleted
            deleted += session.execute(delete(model).where(model.id.in_(ids))).rowcount
