"""Download routes: the status matrix and the history as CSV or Excel files."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from integration_monitor.dashboard.context import ViewContext
from integration_monitor.dashboard.exports import (
    ExportError,
    ExportFormat,
    Granularity,
    Period,
    Table,
    database_history_table,
    export_notes,
    matrix_table,
    parse_period,
    service_history_table,
    to_csv,
    to_xlsx,
)
from integration_monitor.dashboard.formatting import local_time
from integration_monitor.dashboard.rendering import refresh_history, view_context

router = APIRouter(prefix="/export", tags=["exports"])

MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

Subject = Literal["databases", "services"]


@router.get("/matrix.{file_format}", summary="Status matrix as CSV or Excel")
def export_matrix(request: Request, file_format: ExportFormat,
                  lang: Annotated[Literal["vi", "en"] | None, Query()] = None) -> Response:
    """Return one row per public service, with its verdicts and one status column per national database."""
    ctx = view_context(request, lang)
    table = matrix_table(ctx)
    stamp = local_time(ctx.now).strftime("%Y%m%d-%H%M")
    if file_format == ExportFormat.CSV:
        content = to_csv(table)
    else:
        content = to_xlsx([table], export_notes(ctx, table.name, None, None))
    return _download(content, file_format, f"status-matrix-{stamp}")


@router.get("/history.{file_format}", summary="History over a period as CSV or Excel")
def export_history(
    request: Request,
    file_format: ExportFormat,
    first_day: Annotated[str | None, Query(alias="from", description="First day, YYYY-MM-DD (Vietnam time)")] = None,
    last_day: Annotated[str | None, Query(alias="to", description="Last day included, YYYY-MM-DD")] = None,
    granularity: Granularity = Granularity.DAY,
    subject: Annotated[Subject, Query(description="Table of a CSV file; Excel files hold both")] = "databases",
    lang: Annotated[Literal["vi", "en"] | None, Query()] = None,
) -> Response:
    """Availability, latency, completeness, signatures and failure kinds per database, and the
    end-to-end ready share per service, per hour or per day of Vietnam time."""
    ctx = view_context(request, lang)
    try:
        period = parse_period(first_day, last_day, local_time(ctx.now).date(), granularity)
    except ExportError as error:
        raise HTTPException(422, str(error)) from None
    refresh_history(request)
    content = history_file(ctx, period, granularity, file_format, subject)
    name = f"history-{period.first_day.isoformat()}-{period.last_day.isoformat()}-{granularity.value}"
    if file_format == ExportFormat.CSV:
        name += f"-{subject}"
    return _download(content, file_format, name)


def history_file(ctx: ViewContext, period: Period, granularity: Granularity, file_format: ExportFormat,
                 subject: Subject = "databases") -> bytes:
    if file_format == ExportFormat.CSV:
        table: Table = (database_history_table if subject == "databases" else service_history_table)(
            ctx, period, granularity)
        return to_csv(table)
    tables = [database_history_table(ctx, period, granularity), service_history_table(ctx, period, granularity)]
    return to_xlsx(tables, export_notes(ctx, ctx._("Monitoring history"), period, granularity))


def _download(content: bytes, file_format: ExportFormat, stem: str) -> Response:
    return Response(content, media_type=MEDIA_TYPES[file_format],
                    headers={"Content-Disposition": f'attachment; filename="{stem}.{file_format.value}"'})
