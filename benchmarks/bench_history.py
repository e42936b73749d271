"""History scale: dashboard queries on a year of 5-minute history against a week, and store size.

Two stores end at the same moment: one week and one year of history, every database checked
and every service evaluated every 5 minutes, written into SQLite by the dashboard's
generator of synthetic history (``integration_monitor.dashboard.history``) and summed into
the hourly tables. Field and service-access rows are written for the year's last
``--detail-days`` only. The queries below never read older ones, a year of them is about 60
million rows, and their size per day is measured on the week store instead.

The year takes minutes to write, so it is kept in ``var/benchmarks/cache`` and used again
while the generator, the aggregation and the options stay the same. For PostgreSQL
(127.0.0.1:5432, user postgres, databases created for this run and dropped after it) the
same rows are copied, row for row, into a migrated store with ``COPY``.

Timed on each store (median of interleaved repetitions), as the dashboard calls them:

- the matrix page's data (``build_matrix``): the newest check and verdict of everything and
  the open incidents;
- a service's 30-day timeline (``service_timeline`` for service 1);
- a database's 30-day uptime (``window_figures_in_store`` for kham_chua_benh).

Then ``store compact`` (``integration_monitor.store.retention``: raw checks and verdicts for
35 days, field and access rows for 7) runs on the year store. The sizes before and after
are printed, with estimates of the size a year would reach without retention and of the
bounded size with it, from the detail rows' size per day.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import PROJECT_ROOT, Result, argument_parser, finish, ratio

END = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
SERVICE = 1
# Service 20's state changes within most days of the synthetic history, the worst case for a timeline.
CHANGING_SERVICE = 20
DATABASE = "kham_chua_benh"
POSTGRES_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
RETENTION = dt.timedelta(days=35)
DETAIL_RETENTION = dt.timedelta(days=7)
RAW_TABLES = ("database_checks", "field_checks", "service_access", "service_statuses", "incidents")
HOURLY_TABLES = ("dashboard_database_hourly", "dashboard_service_hourly")
COPIED_TABLES = RAW_TABLES + HOURLY_TABLES + ("dashboard_aggregation_state",)  # parents before children
CACHE_DIR = PROJECT_ROOT / "var" / "benchmarks" / "cache"
# The sources whose change makes a cached year stale.
GENERATOR_SOURCES = ("dashboard/history.py", "dashboard/aggregate.py", "store/models.py", "dashboard/models.py")


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


def cached_sqlite_store(path: Path, catalog: Any, days: float, detail_days: float | None) -> dict[str, Any]:
    """Write the store to ``path``, from the cache when an identical one was written before."""
    digest = hashlib.sha256(f"{END.isoformat()}|{days}|{detail_days}".encode())
    for name in GENERATOR_SOURCES:
        digest.update((PROJECT_ROOT / "src" / "integration_monitor" / name).read_bytes())
    cached = CACHE_DIR / f"history-{days:g}d-{digest.hexdigest()[:16]}.db"
    if cached.is_file():
        from integration_monitor.store.migrate import upgrade

        shutil.copyfile(cached, path)
        upgrade(f"sqlite:///{path}")  # migrations added since the year was written, as a deployed store gets them
        return {"from_cache": str(cached)}

    figures = fill(f"sqlite:///{path}", catalog, days, detail_days)
    from integration_monitor.store.engine import get_engine

    get_engine(f"sqlite:///{path}").dispose()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for stale in CACHE_DIR.glob(f"history-{days:g}d-*.db"):
        stale.unlink()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(path, cached)
    return figures


def copy_to_postgres(sqlite_path: Path, url: str) -> float:
    """Migrate the PostgreSQL store at ``url`` and copy every row of the SQLite store into it."""
    from sqlalchemy import text

    from integration_monitor.store.engine import get_engine
    from integration_monitor.store.migrate import upgrade

    upgrade(url)
    started = time.perf_counter()
    source = sqlite3.connect(sqlite_path)
    connection = get_engine(url).raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("SET TIME ZONE 'UTC'")  # SQLite keeps UTC times without an offset
        for table in COPIED_TABLES:
            columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
            rows = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
            while chunk := rows.fetchmany(100_000):
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                writer.writerows([r"\N" if value is None else value for value in row] for row in chunk)
                buffer.seek(0)
                cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                                   buffer)
        connection.commit()
    finally:
        connection.close()
        source.close()
    with get_engine(url).begin() as session:
        for table in RAW_TABLES:
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"COALESCE((SELECT MAX(id) FROM {table}), 1))"))
        session.execute(text("ANALYZE"))
    return time.perf_counter() - started


def queries(url: str, catalog: Any) -> dict[str, Callable[[], Any]]:
    from integration_monitor.dashboard.context import ViewContext
    from integration_monitor.dashboard.database_view import window_figures_in_store
    from integration_monitor.dashboard.matrix import build_matrix
    from integration_monitor.dashboard.schemas import Window
    from integration_monitor.dashboard.service_view import service_timeline
    from integration_monitor.store.engine import session_factory

    factory = session_factory(url)
    ctx = ViewContext(catalog=catalog, factory=factory, language="vi", now=END)

    def timeline(number: int = SERVICE) -> Any:
        with factory() as session:
            return service_timeline(session, number, Window.MONTH, END)

    def uptime(window: Window = Window.MONTH) -> Any:
        with factory() as session:
            return window_figures_in_store(session, DATABASE, window, END)

    def timeline_week() -> Any:
        with factory() as session:
            return service_timeline(session, SERVICE, Window.WEEK, END)

    return {"matrix": lambda: build_matrix(ctx), "service_timeline_30d": timeline, "database_uptime_30d": uptime,
            "changing_service_timeline_30d": lambda: timeline(CHANGING_SERVICE),
            "service_timeline_7d": timeline_week, "database_uptime_7d": lambda: uptime(Window.WEEK)}


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

    medians = time_queries({"week": queries(urls["week"], catalog), "year": queries(urls["year"], catalog)},
                           args.repeat)
    for name in medians["week"]:
        result.figure(f"{backend}_{name}_ms", {store: round(medians[store][name] * 1000, 2) for store in medians})
        if name.endswith("_7d"):
            # Same rows in both stores: shows whether the history's length alone slows a query.
            result.figure(f"{backend}_{name}_year_over_week", ratio(medians["year"][name], medians["week"][name]))
            continue
        note = ""
        if name == "changing_service_timeline_30d":
            segments = {store: len(queries(urls[store], catalog)[name]().segments) for store in urls}
            result.figure(f"{backend}_changing_service_segments", segments)
            note = (f"service {CHANGING_SERVICE} changes state within most days, so the answer itself has "
                    f"{segments['year']} segments in the year against {segments['week']} in the week")
        elif name.endswith("_30d"):
            same_rows = name.removesuffix("30d") + "7d"
            note = ("a week of history fills 168 of the window's 720 hours; "
                    f"on a 7-day window year/week is {ratio(medians['year'][same_rows], medians['week'][same_rows]):.2f}×")
        result.target(f"{backend}: {name.replace('_', ' ')}, year / week", ratio(medians["year"][name],
                      medians["week"][name]), 2, note=note)

    week_sizes = table_sizes(urls["week"])
    detail_per_day = (week_sizes["field_checks"] + week_sizes["service_access"]) / 7
    year_sizes = table_sizes(urls["year"])
    result.figure(f"{backend}_year_sizes_mib", _mib(year_sizes))
    result.figure(f"{backend}_detail_rows_per_day_mib", round(detail_per_day / 2**20, 1))
    detail_days = args.detail_days or 0
    unbounded = sum(year_sizes.values()) + (365 - detail_days) * detail_per_day
    result.figure(f"{backend}_year_without_retention_gib_estimate", round(unbounded / 2**30, 2))

    compacted = compact(session_factory(urls["year"]), RETENTION, now=END, keep_detail=DETAIL_RETENTION)
    result.figure(f"{backend}_compact", {"checks_deleted": compacted.checks_deleted,
                                         "verdicts_deleted": compacted.verdicts_deleted,
                                         "field_rows_deleted": compacted.field_rows_deleted,
                                         "seconds": round(compacted.seconds, 1)})
    reclaim(urls["year"])
    kept = table_sizes(urls["year"])
    bounded = sum(kept.values()) + max(0.0, DETAIL_RETENTION.days - detail_days) * detail_per_day
    result.figure(f"{backend}_year_after_compact_mib", _mib(kept))
    result.figure(f"{backend}_bounded_size_mib_estimate", round(bounded / 2**20, 1))


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
    result.figure("detail_retention_days", DETAIL_RETENTION.days)
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    days = 2 if args.quick else 365
    with tempfile.TemporaryDirectory(prefix="bench-history-") as work:
        paths = {"week": Path(work) / "week.db", "year": Path(work) / "year.db"}
        result.figure("week_store", fill(f"sqlite:///{paths['week']}", catalog, 7, None))
        started = time.perf_counter()
        result.figure("year_store", cached_sqlite_store(paths["year"], catalog, days, args.detail_days))
        result.figure("year_store_ready_s", round(time.perf_counter() - started, 1))

        if "postgresql" in backends:
            try:
                with postgres_database() as week_url, postgres_database() as year_url:
                    pg_urls = {"week": week_url, "year": year_url}
                    result.figure("postgresql_copy_s", {store: round(copy_to_postgres(paths[store], url), 1)
                                                        for store, url in pg_urls.items()})
                    measure_backend("postgresql", pg_urls, catalog, args, result)
            except Exception as error:  # noqa: BLE001 - report the missing server and go on
                if "could not connect" not in str(error) and "Connection refused" not in str(error):
                    raise
                result.notes.append(f"PostgreSQL not reachable on 127.0.0.1:5432: {error}")
        if "sqlite" in backends:
            measure_backend("sqlite", {store: f"sqlite:///{path}" for store, path in paths.items()}, catalog, args,
                            result)
    return finish(result, args.result)


if __name__ == "__main__":
    sys.exit(main())
