"""``integration-monitor status`` and ``integration-monitor store``."""

from __future__ import annotations

import argparse
import json
import sys

from integration_monitor.i18n import LANGUAGES


def register(subparsers: argparse._SubParsersAction) -> None:
    status = subparsers.add_parser("status", help="print the latest status of every database and service")
    status.add_argument("--json", action="store_true", help="print JSON instead of the matrix")
    status.add_argument("--lang", choices=LANGUAGES, default=None, help="language of the report (default: vi)")
    status.set_defaults(handler=run_status)

    store = subparsers.add_parser("store", help="manage the status store")
    store_commands = store.add_subparsers(dest="store_command", required=True)
    upgrade = store_commands.add_parser("upgrade", help="apply the status store's migrations")
    upgrade.add_argument("--revision", default="heads", help="target Alembic revision (default: heads, every branch)")
    upgrade.set_defaults(handler=run_upgrade)
    current = store_commands.add_parser("current", help="print the store's URL (password hidden) and revision")
    current.set_defaults(handler=run_current)
    compact = store_commands.add_parser(
        "compact",
        help="delete raw checks and verdicts older than the retention period, once the hourly tables hold them",
    )
    compact.add_argument("--keep-days", type=float, default=None,
                         help="days of raw rows to keep (default: keep_days of the monitoring settings, 35 unless changed)")
    compact.add_argument("--keep-detail-days", type=float, default=None,
                         help="days of field and service-access rows to keep, at most --keep-days "
                              "(default: keep_detail_days of the monitoring settings, 7 unless changed)")
    compact.add_argument("--store-url", default=None, help="status store URL (default: INTEGRATION_MONITOR_STORE_URL)")
    compact.set_defaults(handler=run_compact)


def run_status(args: argparse.Namespace) -> int:
    from integration_monitor.catalog.loader import load_catalog
    from integration_monitor.report import format_matrix, load_snapshot, snapshot_as_dict
    from integration_monitor.store.migrate import upgrade

    catalog = load_catalog()
    upgrade()
    snapshot = load_snapshot(catalog)
    if args.json:
        json.dump(snapshot_as_dict(catalog, snapshot), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print(format_matrix(catalog, snapshot, args.lang))
    return 0


def run_upgrade(args: argparse.Namespace) -> int:
    from integration_monitor.store.engine import redact, store_url
    from integration_monitor.store.migrate import upgrade

    upgrade(revision=args.revision)
    print(f"status store at {redact(store_url())} upgraded to {args.revision}")
    return 0


def run_current(args: argparse.Namespace) -> int:
    from integration_monitor.store.engine import redact, store_url
    from integration_monitor.store.migrate import current_revision

    print(f"{redact(store_url())}\t{current_revision() or '(empty)'}")
    return 0


def run_compact(args: argparse.Namespace) -> int:
    import datetime as dt

    from integration_monitor.store.engine import redact, session_factory, store_url
    from integration_monitor.store.migrate import upgrade
    from integration_monitor.pipeline.settings import load_settings
    from integration_monitor.store.retention import compact

    settings = load_settings()
    keep_days = settings.keep_days if args.keep_days is None else args.keep_days
    detail_days = min(settings.keep_detail_days, keep_days) if args.keep_detail_days is None else args.keep_detail_days
    if keep_days <= 0 or detail_days <= 0:
        print(f"error: --keep-days and --keep-detail-days must be positive, got {keep_days} and {detail_days}",
              file=sys.stderr)
        return 2
    if detail_days > keep_days:
        print(f"error: --keep-detail-days ({detail_days}) cannot exceed --keep-days ({keep_days})", file=sys.stderr)
        return 2
    upgrade(args.store_url)
    result = compact(session_factory(args.store_url), dt.timedelta(days=keep_days),
                     keep_detail=dt.timedelta(days=detail_days))
    print(f"{redact(args.store_url or store_url())}: deleted {result.checks_deleted:,} checks, "
          f"{result.field_rows_deleted:,} field rows, {result.access_rows_deleted:,} access rows and "
          f"{result.verdicts_deleted:,} service verdicts older than {result.cutoff.isoformat(timespec='seconds')} "
          f"in {result.seconds:.1f} s")
    return 0
