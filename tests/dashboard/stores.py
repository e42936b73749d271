"""Status stores filled with synthetic history, shared by the dashboard tests."""

from __future__ import annotations

import datetime as dt


def history_end() -> dt.datetime:
    """Return the start of the previous hour.

    The pages measure their windows back from the real clock, so the synthetic history ends
    before the tests start. Its fixed seed gives the same sequence of states on every run.
    """
    return dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)


def fill_store(url: str, days: float, detail_days: float | None = 1.0, seed: int = 2025) -> None:
    """Migrate a store and fill it with synthetic history ending an hour ago, then sum it hourly."""
    from integration_monitor.catalog.loader import load_catalog_cached
    from integration_monitor.dashboard.aggregate import refresh_aggregates
    from integration_monitor.dashboard.history import HistoryOptions, generate_history
    from integration_monitor.store.engine import session_factory
    from integration_monitor.store.migrate import upgrade

    upgrade(url)
    end = history_end()
    options = HistoryOptions(start=end - dt.timedelta(days=days), end=end, seed=seed,
                             detail_window=dt.timedelta(days=detail_days) if detail_days is not None else None)
    with session_factory(url).begin() as session:
        generate_history(session, load_catalog_cached(), options)
    refresh_aggregates(session_factory(url))
