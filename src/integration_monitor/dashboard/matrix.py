"""The services × national databases matrix, from the latest status in the store."""

from __future__ import annotations

from integration_monitor.catalog.models import Service
from integration_monitor.dashboard.context import ViewContext
from integration_monitor.dashboard.incidents import open_incident_starts
from integration_monitor.dashboard.schemas import CellStatus, Matrix, MatrixCell, MatrixDatabase, MatrixService
from integration_monitor.dashboard.labels import check_problems
from integration_monitor.dashboard.latest import load_latest_snapshot
from integration_monitor.report import CELL_MARKS, StatusSnapshot, cell_mark, describe_reason
from integration_monitor.store.repository import SCOPE_DATABASE, SCOPE_SERVICE

# The report's marks, read back as statuses, so the page and the CLI matrix never disagree.
_STATUS_BY_MARK = {
    CELL_MARKS["OK"]: CellStatus.OK,
    CELL_MARKS["DEGRADED"]: CellStatus.DEGRADED,
    CELL_MARKS["BROKEN"]: CellStatus.BROKEN,
    CELL_MARKS["NO_DATA"]: CellStatus.NO_DATA,
    CELL_MARKS[None]: CellStatus.NOT_CHECKED,
}


def cell_status(snapshot: StatusSnapshot, service_number: int, database_code: str) -> CellStatus:
    return _STATUS_BY_MARK[cell_mark(service_number, database_code, snapshot)]


def cell_label(ctx: ViewContext, status: CellStatus) -> str:
    _ = ctx._
    return {
        CellStatus.OK: _("Usable"),
        CellStatus.DEGRADED: _("Problem for this service"),
        CellStatus.BROKEN: _("Connection broken"),
        CellStatus.NO_DATA: _("No data"),
        CellStatus.NOT_CHECKED: _("Not checked yet"),
    }[status]


def build_matrix(ctx: ViewContext) -> Matrix:
    with ctx.factory() as session:
        snapshot, checks = load_latest_snapshot(ctx.catalog, session)
        since = open_incident_starts(session)
        problems = {database.code: check_problems(ctx, checks.get(database.code)) for database in ctx.catalog.databases}

    databases = []
    for database in ctx.catalog.databases:
        item = snapshot.databases[database.code]
        databases.append(MatrixDatabase(
            code=database.code,
            name=ctx.database_name(database),
            short_name=ctx.short_database_name(database),
            owner=ctx.owner_name(database.owner),
            status=item.status,
            failure_kind=item.failure_kind,
            reason=item.reason,
            problems=problems[database.code],
            checked_at=item.checked_at,
            unhealthy_since=since.get((SCOPE_DATABASE, database.code)),
        ))

    services = [_matrix_service(ctx, snapshot, service, since) for service in ctx.catalog.services]
    return Matrix(
        generated_at=ctx.now,
        language=ctx.language,
        ready_count=sum(1 for service in services if service.ready),
        service_count=len(services),
        databases=databases,
        services=services,
    )


def _matrix_service(ctx: ViewContext, snapshot: StatusSnapshot, service: Service, since: dict) -> MatrixService:
    verdict = snapshot.services[service.number]
    reasons = [describe_reason(reason, ctx.catalog, ctx.language) for reason in verdict.reasons]
    cells = []
    for code in service.database_codes():
        status = cell_status(snapshot, service.number, code)
        cells.append(MatrixCell(
            database_code=code,
            status=status,
            mark=CELL_MARKS[status.value if status != CellStatus.NOT_CHECKED else None],
            label=cell_label(ctx, status),
            reasons=_cell_reasons(ctx, snapshot, service.number, code, status),
        ))
    return MatrixService(
        number=service.number,
        name=ctx.service_name(service),
        end_to_end_per_appendix=service.end_to_end_per_appendix,
        ready=verdict.ready,
        evaluated_at=verdict.evaluated_at,
        not_ready_since=since.get((SCOPE_SERVICE, str(service.number))) if verdict.ready is False else None,
        reasons=reasons,
        cells=cells,
    )


def _cell_reasons(ctx: ViewContext, snapshot: StatusSnapshot, number: int, code: str, status: CellStatus) -> list[str]:
    blocking = [reason for reason in snapshot.services[number].reasons if reason.database == code]
    if blocking:
        return [describe_reason(reason, ctx.catalog, ctx.language) for reason in blocking]
    database = snapshot.databases[code]
    if status in (CellStatus.BROKEN, CellStatus.NO_DATA) and database.reason:
        kind = f" ({database.failure_kind})" if database.failure_kind else ""
        return [f"{ctx.database_name(code)}: {database.reason}{kind}"]
    return []
