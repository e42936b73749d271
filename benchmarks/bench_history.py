"""History scale: dashboard queries on a year of 5-minute history against a week, and store size.

For SQLite and for PostgreSQL (127.0.0.1:5432, user postgres, a database created for this
run and dropped after it) the script writes two stores with the dashboard's generator of
synthetic history (``integration_monitor.dashboard.history``), both ending at the same
moment: one week, and one year. Every database is checked and every service evaluated
every 5 minutes. Field and service-access rows are written for the last ``--detail-days``
only, because the queries below never read them further back, and a year of them is about
60 million rows; their size per day is measured on the week store instead.

Timed on each store (median of interleaved repetitions), as the dashboard calls them:

- the matrix page's data (``build_matrix``): the newest check and verdict of everything and
  the open incidents;
- a service's 30-day timeline (``service_timeline`` for service 1);
- a database's 30-day uptime (``database_hours`` and ``window_figures`` for kham_chua_benh).

Then ``store compact`` (``integration_monitor.store.retention``) runs on the year store and
the sizes before and after are printed, with the size a year would reach without retention.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import Result, argument_parser, finish, ratio

END = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
SERVICE = 1
DATABASE = "kham_chua_benh"
POSTGRES_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
RETENTION = dt.timedelta(days=35)
RAW_TABLES = ("database_checks", "field_checks", "service_access", "service_statuses", "incidents")
HOURLY_TABLES = ("dashboard_database_hourly", "dashboard_service_hourly")


@contextmanager
def postgres_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"im_bench_history_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        from integration_monitor.store.engine import get_engine

        get_engine.cache_clear()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fill(url: str, catalog: Any, days: float, detail_days: float | None) -> dict[str, Any]:
    """Migrate the store, write ``days`` of history ending at END and sum it into the hourly tables."""
    from integration_monitor.dashboard.aggregate import refresh_aggregates
    from integration_monitor.dashboard.history import HistoryOptions, generate_history
    from integration_monitor.store.engine import session_factory
    from integration_monitor.store.migrate import upgrade

    upgrade(url)
    options = HistoryOptions(
        start=END - dt.timedelta(days=days), end=END,
        detail_window=dt.timedelta(days=detail_days) if detail_days is not None else None,
    )
    with session_factory(url).begin() as session:
        summary = generate_history(session, catalog, options)
    refreshed = refresh_aggregates(session_factory(url))
    return {"rows": {"database_checks": summary.database_checks, "field_checks": summary.field_checks,
                     "service_access": summary.service_access, "service_statuses": summary.service_statuses,
                     "incidents": summary.incidents},
            "generate_s": round(summary.seconds, 1), "hourly_refresh_s": round(refreshed.seconds, 1)}


def queries(url: str, catalog: Any) -> dict[str, Callable[[], Any]]:
    from integration_monitor.dashboard.context import ViewContext
    from integration_monitor.dashboard.database_view import database_hours, window_figures
    from integration_monitor.dashboard.matrix import build_matrix
    from integration_monitor.dashboard.schemas import Window
    from integration_monitor.dashboard.service_view import service_timeline
    from integration_monitor.store.engine import session_factory

    factory = session_factory(url)
    ctx = ViewContext(catalog=catalog, factory=factory, language="vi", now=END)

    def timeline() -> Any:
        with factory() as session:
            return service_timeline(session, SERVICE, Window.MONTH, END)

    def uptime() -> Any:
        with factory() as session:
            rows = database_hours(session, DATABASE, END - Window.MONTH.length, END)
        return window_figures(rows, Window.MONTH, END)

    return {"matrix": lambda: build_matrix(ctx), "service_timeline_30d": timeline, "database_uptime_30d": uptime}


def table_sizes(url: str) -> dict[str, int]:
    """Return the bytes each table takes, indexes included (SQLite: dbstat; PostgreSQL: pg_total_relation_size)."""
    from sqlalchemy import text

    from integration_monitor.store.engine import get_engine

    sizes = {}
    with get_engine(url).connect() as connection:
        for table in RAW_TABLES + HOURLY_TABLES:
            if url.startswith("sqlite"):
                names = [table] + [row[0] for row in connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table"), {"table": table})]
                sizes[table] = sum(int(connection.execute(
                    text("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = :name"), {"name": name}).scalar())
                    for name in names)
            else:
                sizes[table] = int(connection.execute(text("SELECT pg_total_relation_size(:table)"),
                                                      {"table": table}).scalar())
    return sizes


def reclaim(url: str) -> None:
    """Give deleted rows' space back to the file system, so the sizes show what is kept."""
    from sqlalchemy import text

    from integration_monitor.store.engine import get_engine

    engine = get_engine(url)
    if url.startswith("sqlite"):
        with engine.connect() as connection:
            connection.exec_driver_sql("VACUUM")
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in RAW_TABLES:
            connection.execute(text(f"VACUUM FULL {table}"))


def time_queries(stores: dict[str, dict[str, Callable[[], Any]]], repeat: int) -> dict[str, dict[str, float]]:
    """Return the median seconds of each query on each store, the stores alternating."""
    times: dict[str, dict[str, list[float]]] = {store: {name: [] for name in funcs} for store, funcs in stores.items()}
    for funcs in stores.values():
        for action in funcs.values():
            action()  # first calls warm the connection pool and the caches of both stores
    for repetition in range(repeat):
        order = list(stores) if repetition % 2 == 0 else list(reversed(stores))
        for store in order:
            for name, action in stores[store].items():
                started = time.perf_counter()
                action()
                times[store][name].append(time.perf_counter() - started)
    return {store: {name: statistics.median(values) for name, values in by_name.items()}
            for store, by_name in times.items()}


def measure_backend(backend: str, urls: dict[str, str], catalog: Any, args: Any, result: Result) -> None:
    from integration_monitor.store.engine import session_factory
    from integration_monitor.store.retention import compact

    week = fill(urls["week"], catalog, 7, None)
    year = fill(urls["year"], catalog, 2 if args.quick else 365, args.detail_days)
    result.figure(f"{backend}_week_store", week)
    result.figure(f"{backend}_year_store", year)

    medians = time_queries({"week": queries(urls["week"], catalog), "year": queries(urls["year"], catalog)},
                           args.repeat)
    for name in medians["week"]:
        result.figure(f"{backend}_{name}_ms", {store: round(medians[store][name] * 1000, 2) for store in medians})
        result.target(f"{backend}: {name.replace('_', ' ')}, year / week", ratio(medians["year"][name],
                      medians["week"][name]), 2)

    week_sizes = table_sizes(urls["week"])
    detail_per_day = (week_sizes["field_checks"] + week_sizes["service_access"]) / 7
    year_sizes = table_sizes(urls["year"])
    result.figure(f"{backend}_year_sizes_mib", _mib(year_sizes))
    result.figure(f"{backend}_detail_rows_per_day_mib", round(detail_per_day / 2**20, 1))
    detail_days = args.detail_days or 0
    unbounded = sum(year_sizes.values()) + (365 - detail_days) * detail_per_day
    result.figure(f"{backend}_year_without_retention_gib_estimate", round(unbounded / 2**30, 2))

    compacted = compact(session_factory(urls["year"]), RETENTION, now=END)
    result.figure(f"{backend}_compact", {"checks_deleted": compacted.checks_deleted,
                                         "verdicts_deleted": compacted.verdicts_deleted,
                                         "seconds": round(compacted.seconds, 1)})
    reclaim(urls["year"])
    kept = table_sizes(urls["year"])
    bounded = sum(kept.values()) + max(0.0, RETENTION.days - detail_days) * detail_per_day
    result.figure(f"{backend}_year_after_compact_mib", _mib(kept))
    result.figure(f"{backend}_bounded_size_mib_estimate", round(bounded / 2**20, 1))
    hourly_per_year = (kept["dashboard_database_hourly"] + kept["dashboard_service_hourly"]) * 365 / (
        2 if args.quick else 365)
    result.figure(f"{backend}_hourly_tables_per_year_mib", round(hourly_per_year / 2**20, 1))


def _mib(sizes: dict[str, int]) -> dict[str, float]:
    return {table: round(size / 2**20, 1) for table, size in sizes.items()} | {
        "total": round(sum(sizes.values()) / 2**20, 1)}


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed calls of each query (default: %(default)s)")
    parser.add_argument("--detail-days", type=float, default=2.0,
                        help="days before the end with field and access rows in the year store (default: %(default)s)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated (default: %(default)s)")
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from integration_monitor.catalog.loader import load_catalog_cached

    catalog = load_catalog_cached()
    result = Result("history")
    result.figure("end", END.isoformat())
    result.figure("interval_minutes", 5)
    result.figure("retention_days", RETENTION.days)
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-history-") as work:
        if "sqlite" in backends:
            urls = {name: f"sqlite:///{Path(work) / f'{name}.db'}" for name in ("week", "year")}
            measure_backend("sqlite", urls, catalog, args, result)
        if "postgresql" in backends:
            try:
                with postgres_database() as week_url, postgres_database() as year_url:
                    measure_backend("postgresql", {"week": week_url, "year": year_url}, catalog, args, result)
            except Exception as error:  # noqa: BLE001 - report the missing server and go on
                if "could not connect" not in str(error) and "Connection refused" not in str(error):
                    raise
                result.notes.append(f"PostgreSQL not reachable on 127.0.0.1:5432: {error}")
    return finish(result, args.result)


if __name__ == "__main__":
    sys.exit(main())
