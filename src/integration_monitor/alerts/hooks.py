"""Entry points that the pipeline's tasks call after storing their results.

The record task calls :func:`on_database_recorded` once per DAG run, after the fetch task's
final try (its trigger rule is ``all_done``), so a fetch that will be retried never alerts.
An exception raised while alerting is logged and does not fail the calling task, so
monitoring goes on when a channel or the alerting file is broken.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from integration_monitor.alerts.engine import AlertEngine, AlertRecord
    from integration_monitor.pipeline.record_step import RecordedCheck

log = logging.getLogger(__name__)

# Incident transitions of the store that can call for an alert.
ALERTING_TRANSITIONS = frozenset({"opened", "continued", "closed"})


def build_engine(store_url: str | None = None) -> AlertEngine:
    """Return an engine reading the alerting file, the catalog and the status store."""
    from integration_monitor.alerts.config import load_alerting_config
    from integration_monitor.alerts.engine import AlertEngine
    from integration_monitor.catalog.loader import load_catalog_cached
    from integration_monitor.store.engine import session_factory

    catalog = load_catalog_cached()
    config = load_alerting_config(
        known_owners={owner.code for owner in catalog.owners},
        known_databases={database.code for database in catalog.databases},
    )
    return AlertEngine(config, catalog, session_factory(store_url))


def on_database_recorded(recorded: RecordedCheck, context: Mapping[str, Any]) -> AlertRecord | None:
    """Alert on a database's incident after its check is stored. Return what was recorded."""
    result = recorded.result
    if recorded.incident_transition not in ALERTING_TRANSITIONS or recorded.incident_id is None:
        return None
    try:
        return build_engine().handle_database_result(
            result.database_code, recorded.incident_id, result.checked_at, result.run_id, context
        )
    except Exception:  # noqa: BLE001 - alerting must never fail the record task
        log.exception("Alerting for %s run %s failed; the check itself is stored", result.database_code, result.run_id)
        return None


def on_services_evaluated(changes: Iterable[Mapping[str, Any]], context: Mapping[str, Any]) -> list[AlertRecord]:
    """Alert on service incidents that no database incident covers. Return what was recorded."""
    run_id = str(context.get("run_id"))
    try:
        return build_engine().handle_service_changes(list(changes), run_id, context)
    except Exception:  # noqa: BLE001 - alerting must never fail the rollup task
        log.exception("Alerting for the service rollup run %s failed; the verdicts are stored", run_id)
        return []
