"""Sub-commands ``export`` and ``dashboard``: report files, hourly tables and synthetic history."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from integration_monitor.i18n import LANGUAGES


def register(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser(
        "export",
        help="write the status matrix, or the history over a period, as CSV or Excel",
        description="Without --from and --to, export the current status matrix; with either, the history "
                    "per day (or hour) of Vietnam time. Days are YYYY-MM-DD, both included.",
    )
    export.add_argument("--what", choices=("matrix", "history"), default=None,
                        help="what to export (default: history when --from or --to is given, else matrix)")
    export.add_argument("--format", dest="file_format", choices=("csv", "xlsx"), default="xlsx",
                        help="file format (default: xlsx)")
    export.add_argument("--from", dest="first_day", default=None, help="first day of the history, YYYY-MM-DD")
    export.add_argument("--to", dest="last_day", default=None, help="last day of the history (included), YYYY-MM-DD")
    export.add_argument("--granularity", choices=("day", "hour"), default="day", help="one row per day or hour")
    export.add_argument("--subject", choices=("databases", "services"), default="databases",
                        help="table to write into a CSV history file (an Excel file contains both)")
    export.add_argument("--lang", choices=LANGUAGES, default=None, help="language of headers and text (default: vi)")
    export.add_argument("--output", "-o", default=None, help="output file (default: a name in the current folder)")
    export.add_argument("--store-url", default=None, help="status store URL (default: INTEGRATION_MONITOR_STORE_URL)")
    export.set_defaults(handler=run_export)

    dashboard = subparsers.add_parser("dashboard", help="maintain the dashboard's hourly tables or fill a test store")
    actions = dashboard.add_subparsers(dest="dashboard_command", required=True)

    refresh = actions.add_parser("refresh", help="sum the raw checks and verdicts added since the last refresh")
    refresh.add_argument("--store-url", default=None, help="status store URL (default: INTEGRATION_MONITOR_STORE_URL)")
    refresh.set_defaults(handler=run_refresh)

    history = actions.add_parser(
        "history",
        help="write synthetic history (statuses, counts and ratios only) into a test store",
        description="Fill a status store with seeded synthetic checks, verdicts and incidents for tests, "
                    "demos and benchmarks. --store-url is required so that a production store is never "
                    "filled by accident.",
    )
    history.add_argument("--store-url", required=True, help="status store URL to fill")
    history.add_argument("--days", type=float, default=30.0, help="length of the history in days (default: 30)")
    history.add_argument("--interval-minutes", type=float, default=5.0, help="minutes between checks (default: 5)")
    history.add_argument("--detail-days", type=float, default=None,
                         help="days before the end that get field and service-access rows (default: all)")
    history.add_argument("--end", default=None, help="end of the history, ISO 8601 with time zone (default: now)")
    history.add_argument("--seed", type=int, default=2025, help="random seed (default: 2025)")
    history.set_defaults(handler=run_history)


def run_export(args: argparse.Namespace) -> int:
    from integration_monitor.catalog.loader import load_catalog_cached
    from integration_monitor.dashboard.aggregate import refresh_aggregates
    from integration_monitor.dashboard.context import ViewContext
    from integration_monitor.dashboard.downloads import history_file
    from integration_monitor.dashboard.exports import (
        ExportError,
        ExportFormat,
        Granularity,
        export_notes,
        matrix_table,
        parse_period,
        to_csv,
        to_xlsx,
    )
    from integration_monitor.dashboard.formatting import local_time
    from integration_monitor.i18n import resolve_language
    from integration_monitor.store.engine import session_factory

    export_kind = args.what or ("history" if args.first_day or args.last_day else "matrix")
    file_format = ExportFormat(args.file_format)
    granularity = Granularity(args.granularity)
    factory = session_factory(args.store_url)
    ctx = ViewContext(catalog=load_catalog_cached(), factory=factory, language=resolve_language(args.lang))

    if export_kind == "matrix":
        table = matrix_table(ctx)
        content = to_csv(table) if file_format == ExportFormat.CSV else to_xlsx(
            [table], export_notes(ctx, table.name, None, None))
        default_name = f"status-matrix-{local_time(ctx.now):%Y%m%d-%H%M}.{file_format.value}"
    else:
        try:
            period = parse_period(args.first_day, args.last_day, local_time(ctx.now).date(), granularity)
        except ExportError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        refresh_aggregates(factory)
        content = history_file(ctx, period, granularity, file_format, args.subject)
        default_name = (f"history-{period.first_day.isoformat()}-{period.last_day.isoformat()}-{granularity.value}"
                        f"{'-' + args.subject if file_format == ExportFormat.CSV else ''}.{file_format.value}")

    output = Path(args.output or default_name)
    output.write_bytes(content)
    print(f"Wrote {output} ({len(content):,} bytes)")
    return 0


def run_refresh(args: argparse.Namespace) -> int:
    from integration_monitor.dashboard.aggregate import refresh_aggregates
    from integration_monitor.store.engine import session_factory

    result = refresh_aggregates(session_factory(args.store_url))
    print(f"Summed {result.checks_read:,} database checks and {result.verdicts_read:,} service verdicts "
          f"into the hourly tables in {result.seconds:.1f} s")
    return 0 if result.complete else 1


def run_history(args: argparse.Namespace) -> int:
    from integration_monitor.catalog.loader import load_catalog_cached
    from integration_monitor.dashboard.history import HistoryOptions, generate_history
    from integration_monitor.store.engine import session_factory
    from integration_monitor.store.migrate import upgrade

    if args.days <= 0 or args.interval_minutes <= 0:
        print("error: --days and --interval-minutes must be positive", file=sys.stderr)
        return 2
    try:
        end = dt.datetime.fromisoformat(args.end) if args.end else dt.datetime.now(dt.UTC)
    except ValueError:
        print(f"error: invalid --end {args.end!r}; expected ISO 8601, e.g. 2025-06-30T00:00:00+07:00", file=sys.stderr)
        return 2
    if end.tzinfo is None:
        print("error: --end needs a time zone, e.g. 2025-06-30T00:00:00+07:00", file=sys.stderr)
        return 2

    upgrade(args.store_url)
    options = HistoryOptions(
        start=end - dt.timedelta(days=args.days),
        end=end,
        interval=dt.timedelta(minutes=args.interval_minutes),
        seed=args.seed,
        detail_window=dt.timedelta(days=args.detail_days) if args.detail_days is not None else None,
    )
    with session_factory(args.store_url).begin() as session:
        summary = generate_history(session, load_catalog_cached(), options)
    print(f"Wrote {summary.database_checks:,} database checks, {summary.field_checks:,} field rows, "
          f"{summary.service_access:,} access rows, {summary.service_statuses:,} service verdicts and "
          f"{summary.incidents:,} incidents in {summary.seconds:.1f} s")
    return 0
