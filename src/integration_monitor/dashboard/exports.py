"""CSV and Excel exports of the status matrix and of the history over a period.

The history comes from the hourly tables, summed per hour or per day of Vietnam time. CSV
files start with a UTF-8 byte order mark, so that Excel reads the Vietnamese text correctly.
They carry ratios as percentages with a dot as decimal separator.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from integration_monitor.dashboard.context import ViewContext
from integration_monitor.dashboard.formatting import display_zone, local_time
from integration_monitor.dashboard.labels import block_kind_label, failure_kind_label
from integration_monitor.dashboard.matrix import build_matrix
from integration_monitor.dashboard.models import DatabaseHourly, ServiceHourly

MAX_HOURLY_DAYS = 93
MAX_DAILY_DAYS = 3660
DEFAULT_DAYS = 30


class ExportError(ValueError):
    """An export request that cannot be served. The message names the invalid value."""


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


class ColumnKind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    RATIO = "ratio"


@dataclass(frozen=True)
class Column:
    header: str
    kind: ColumnKind = ColumnKind.TEXT


@dataclass
class Table:
    name: str  # sheet name, at most 31 characters
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Period:
    """Whole days of Vietnam time, both ends included."""

    first_day: dt.date
    last_day: dt.date

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time(), display_zone()).astimezone(dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time(), display_zone()).astimezone(dt.UTC)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def parse_period(first: str | None, last: str | None, today: dt.date, granularity: Granularity) -> Period:
    """Read a period of ISO dates (YYYY-MM-DD); without dates, the last 30 days up to today."""
    last_day = _parse_day(last, "to") if last else today
    first_day = _parse_day(first, "from") if first else last_day - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first_day > last_day:
        raise ExportError(f"the period starts on {first_day.isoformat()}, after its end {last_day.isoformat()}")
    period = Period(first_day, last_day)
    limit = MAX_HOURLY_DAYS if granularity == Granularity.HOUR else MAX_DAILY_DAYS
    if period.days > limit:
        raise ExportError(f"the period has {period.days} days; at most {limit} are allowed per {granularity.value}")
    return period


def _parse_day(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ExportError(f"invalid '{name}' date {text!r}; expected YYYY-MM-DD") from None


def matrix_table(ctx: ViewContext) -> Table:
    """Return one row per service: verdicts, then one status column per national database."""
    _ = ctx._
    matrix = build_matrix(ctx)
    columns = [Column(_("Service number"), ColumnKind.INTEGER), Column(_("Service")),
               Column(_("End-to-end per appendix")), Column(_("End-to-end now")),
               Column(_("Not ready since (Vietnam time)")), Column(_("Verdict time (Vietnam time)"))]
    columns += [Column(database.short_name) for database in matrix.databases]
    columns.append(Column(_("Reasons")))
    table = Table(name=_("Status matrix"), columns=columns)

    for service in matrix.services:
        cells = {cell.database_code: cell for cell in service.cells}
        row: list[Any] = [
            service.number,
            service.name,
            _("yes") if service.end_to_end_per_appendix else _("no"),
            {True: _("yes"), False: _("no"), None: _("no result")}[service.ready],
            _local_text(service.not_ready_since),
            _local_text(service.evaluated_at),
        ]
        for database in matrix.databases:
            cell = cells.get(database.code)
            row.append(f"{cell.mark} {cell.label}" if cell is not None else "")
        row.append(" | ".join(service.reasons))
        table.rows.append(row)
    return table


def database_history_table(ctx: ViewContext, period: Period, granularity: Granularity) -> Table:
    _ = ctx._
    with ctx.factory() as session:
        # Plain rows rather than ORM objects: a year of hours is 140,000 rows.
        rows = session.execute(
            select(DatabaseHourly.__table__)
            .where(DatabaseHourly.hour_start >= period.start, DatabaseHourly.hour_start < period.end)
        ).all()
    zone = display_zone()
    groups: dict[tuple[str, dt.datetime], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row.database_code, _bucket(row.hour_start, granularity, zone))].append(row)

    table = Table(name=_("National databases"), columns=[
        Column(_("Database code")), Column(_("National database")), Column(_("Period start (Vietnam time)")),
        Column(_("Checks"), ColumnKind.INTEGER), Column(_("Availability"), ColumnKind.RATIO),
        Column(_("OK share"), ColumnKind.RATIO), Column(_("Broken checks"), ColumnKind.INTEGER),
        Column(_("No-data checks"), ColumnKind.INTEGER), Column(_("Mean latency (ms)"), ColumnKind.NUMBER),
        Column(_("Highest latency (ms)"), ColumnKind.NUMBER), Column(_("Mean completeness"), ColumnKind.RATIO),
        Column(_("Lowest field completeness"), ColumnKind.RATIO), Column(_("Signed records"), ColumnKind.RATIO),
        Column(_("Valid signatures"), ColumnKind.RATIO), Column(_("Failure kinds")),
    ])
    order = {database.code: index for index, database in enumerate(ctx.catalog.databases)}
    for (code, bucket), items in sorted(groups.items(), key=lambda pair: (order.get(pair[0][0], 99), pair[0][1])):
        checks = sum(item.checks for item in items)
        kinds = Counter()
        for item in items:
            kinds.update(item.failure_kinds or {})
        latencies = [item.latency_max_ms for item in items if item.latency_max_ms is not None]
        lowest = [item.completeness_min for item in items if item.completeness_min is not None]
        table.rows.append([
            code,
            _safe_database_name(ctx, code),
            bucket.strftime("%Y-%m-%d %H:%M") if granularity == Granularity.HOUR else bucket.strftime("%Y-%m-%d"),
            checks,
            _share(sum(item.ok_count + item.degraded_count for item in items), checks),
            _share(sum(item.ok_count for item in items), checks),
            sum(item.broken_count for item in items),
            sum(item.no_data_count for item in items),
            _weighted(items, "latency_mean_ms"),
            max(latencies) if latencies else None,
            _weighted(items, "completeness_mean"),
            min(lowest) if lowest else None,
            _weighted(items, "signature_present_mean"),
            _weighted(items, "signature_valid_mean"),
            ", ".join(f"{failure_kind_label(ctx, kind)}: {count}" for kind, count in kinds.most_common()),
        ])
    return table


def service_history_table(ctx: ViewContext, period: Period, granularity: Granularity) -> Table:
    _ = ctx._
    with ctx.factory() as session:
        rows = session.execute(
            select(ServiceHourly.__table__)
            .where(ServiceHourly.hour_start >= period.start, ServiceHourly.hour_start < period.end)
        ).all()
    zone = display_zone()
    groups: dict[tuple[int, dt.datetime], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row.service_number, _bucket(row.hour_start, granularity, zone))].append(row)

    table = Table(name=_("Public services"), columns=[
        Column(_("Service number"), ColumnKind.INTEGER), Column(_("Service")),
        Column(_("Period start (Vietnam time)")), Column(_("Rollup verdicts"), ColumnKind.INTEGER),
        Column(_("End-to-end ready share"), ColumnKind.RATIO), Column(_("Blocking reasons")),
    ])
    for (number, bucket), items in sorted(groups.items()):
        evaluations = sum(item.evaluations for item in items)
        kinds = Counter()
        for item in items:
            kinds.update(item.block_kinds or {})
        try:
            name = ctx.service_name(number)
        except KeyError:
            name = str(number)
        table.rows.append([
            number,
            name,
            bucket.strftime("%Y-%m-%d %H:%M") if granularity == Granularity.HOUR else bucket.strftime("%Y-%m-%d"),
            evaluations,
            _share(sum(item.ready_count for item in items), evaluations),
            ", ".join(f"{block_kind_label(ctx, kind)}: {count}" for kind, count in kinds.most_common()),
        ])
    return table


def _bucket(hour_start: dt.datetime, granularity: Granularity, zone: dt.tzinfo) -> dt.datetime:
    local = hour_start.astimezone(zone)
    return local if granularity == Granularity.HOUR else local.replace(hour=0, minute=0, second=0, microsecond=0)


def _local_text(moment: dt.datetime | None) -> str:
    return local_time(moment).strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def _safe_database_name(ctx: ViewContext, code: str) -> str:
    try:
        return ctx.database_name(code)
    except KeyError:
        return code


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _weighted(items: list, attribute: str) -> float | None:
    pairs = [(getattr(item, attribute), item.checks) for item in items if getattr(item, attribute) is not None]
    total = sum(weight for _value, weight in pairs)
    return sum(value * weight for value, weight in pairs) / total if total else None


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_csv_header(column) for column in table.columns])
    for row in table.rows:
        writer.writerow([_csv_value(value, column) for value, column in zip(row, table.columns, strict=True)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_header(column: Column) -> str:
    return f"{column.header} (%)" if column.kind == ColumnKind.RATIO else column.header


def _csv_value(value: Any, column: Column) -> Any:
    if value is None:
        return ""
    if column.kind == ColumnKind.RATIO:
        return f"{value * 100:.2f}"
    if column.kind == ColumnKind.NUMBER:
        return f"{value:.1f}"
    return value


def to_xlsx(tables: list[Table], notes: list[tuple[str, str]]) -> bytes:
    """Return a workbook with a first sheet of notes (label, value), then one sheet per table."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    # Write-only mode streams rows; it is several times faster for tens of thousands of rows.
    workbook = Workbook(write_only=True)
    info = workbook.create_sheet(title="Info")
    info.column_dimensions["A"].width = 36
    info.column_dimensions["B"].width = 60
    for label, value in notes:
        info.append([label, value])

    bold = Font(bold=True)
    formats = {ColumnKind.RATIO: "0.0%", ColumnKind.NUMBER: "#,##0.0"}
    for table in tables:
        sheet = workbook.create_sheet(title=table.name[:31])
        sheet.freeze_panes = "A2"
        for index, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = min(48, max(10, len(column.header) + 2))
        header = []
        for column in table.columns:
            cell = WriteOnlyCell(sheet, value=column.header)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        formatted = [formats.get(column.kind) for column in table.columns]
        for row in table.rows:
            sheet.append([_xlsx_cell(sheet, value, number_format) for value, number_format in zip(row, formatted, strict=True)])

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(sheet: Any, value: Any, number_format: str | None) -> Any:
    if number_format is None or value is None:
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = number_format
    return cell


def export_notes(ctx: ViewContext, title: str, period: Period | None, granularity: Granularity | None) -> list[tuple[str, str]]:
    _ = ctx._
    notes = [(_("Report"), title), (_("Generated at (Vietnam time)"), _local_text(ctx.now))]
    if period is not None:
        notes.append((_("Period (Vietnam time)"), f"{period.first_day.isoformat()} – {period.last_day.isoformat()}"))
    if granularity is not None:
        notes.append((_("Granularity"), _("hour") if granularity == Granularity.HOUR else _("day")))
    notes.append((_("Availability"), _("share of checks that returned usable data (status OK or DEGRADED)")))
    return notes
