"""Bodies of the Airflow tasks. DAG files call these inside the tasks, so heavy imports
(pandas, Great Expectations, cryptography) happen at run time, never at parse time."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

log = logging.getLogger(__name__)

FAILURE_XCOM_KEY = "fetch_failure"


def _catalog():  # type: ignore[no-untyped-def]
    from integration_monitor.catalog.loader import load_catalog_cached

    return load_catalog_cached()


class ConnectionSettingsError(Exception):
    """A database's Airflow Connection has a missing or invalid setting.

    The message names the connection and the setting, and never contains the password.
    """


def endpoint_config(database_code: str):  # type: ignore[no-untyped-def]
    from airflow.sdk import BaseHook

    from integration_monitor.fetch import EndpointConfig
    from integration_monitor.pipeline.connections import connection_id

    connection = BaseHook.get_connection(connection_id(database_code))
    try:
        return EndpointConfig.from_connection(connection)
    except ValueError as error:
        raise ConnectionSettingsError(str(error)) from None


def fetch_task(database_code: str, context: dict[str, Any]) -> dict[str, Any]:
    """Fetch a batch and return its measurement; on failure push the classified failure and fail."""
    from integration_monitor.pipeline.fetch_step import FetchStepError, run_fetch
    from integration_monitor.pipeline.measurement import FetchFailure

    ti = context["ti"]
    now = dt.datetime.now(dt.UTC)
    try:
        measurement = run_fetch(_catalog(), database_code, endpoint_config(database_code), now)
    except FetchStepError as error:
        failure = error.failure
    except ConnectionSettingsError as error:
        failure = FetchFailure(
            database_code=database_code,
            fetched_at=now.isoformat(),
            failure_kind="task_error",
            reason=f"invalid connection settings: {error}",
        )
    except Exception as error:  # noqa: BLE001 - any crash must still leave a recorded status
        log.exception("Fetch of %s failed unexpectedly", database_code)
        failure = FetchFailure(
            database_code=database_code,
            fetched_at=now.isoformat(),
            failure_kind="task_error",
            reason=f"unexpected {type(error).__name__} in the fetch task",
        )
    else:
        return measurement.as_xcom()

    ti.xcom_push(key=FAILURE_XCOM_KEY, value=failure.as_xcom())
    log.error("Fetch of %s failed: %s: %s", database_code, failure.failure_kind, failure.reason)
    from airflow.exceptions import AirflowException

    raise AirflowException(f"{database_code}: {failure.failure_kind}: {failure.reason}")


def validate_task(database_code: str, measurement_data: dict[str, Any]) -> dict[str, Any]:
    from integration_monitor.pipeline.measurement import Measurement
    from integration_monitor.pipeline.validate_step import run_validate

    return run_validate(_catalog(), Measurement.from_xcom(measurement_data))


def record_task(database_code: str, context: dict[str, Any]) -> dict[str, Any]:
    """Store this run's result for the database, whatever happened upstream."""
    from integration_monitor.pipeline.measurement import FetchFailure, Measurement
    from integration_monitor.pipeline.record_step import record_check, result_from_failure, result_from_measurement

    ti = context["ti"]
    run_id = context["run_id"]
    measurement_data = ti.xcom_pull(task_ids="fetch", key="return_value")
    validation = ti.xcom_pull(task_ids="validate", key="return_value")
    failure_data = ti.xcom_pull(task_ids="fetch", key=FAILURE_XCOM_KEY)

    if measurement_data and validation:
        measurement = Measurement.from_xcom(measurement_data)
        checked_at = dt.datetime.fromisoformat(measurement.fetched_at)
        result = result_from_measurement(measurement, validation, run_id, checked_at)
    elif failure_data:
        failure = FetchFailure.from_xcom(failure_data)
        result = result_from_failure(failure, run_id, dt.datetime.fromisoformat(failure.fetched_at))
    else:
        reason = "the validate task did not finish" if measurement_data else "the fetch task left no result"
        failure = FetchFailure(database_code, dt.datetime.now(dt.UTC).isoformat(), "task_error", reason)
        result = result_from_failure(failure, run_id, dt.datetime.fromisoformat(failure.fetched_at))

    recorded = record_check(result)
    _notify(recorded, context)
    return {
        "database": database_code,
        "status": result.status,
        "failure_kind": result.failure_kind,
        "record_count": result.record_count,
        "incident": recorded.incident_transition,
    }


def outcome_task(recorded: dict[str, Any] | None) -> None:
    """Fail the run when the endpoint could not be read, so the DAG run shows red as well.

    The record task itself succeeds in that case, so the database's asset still updates and
    the service rollup runs.
    """
    from airflow.exceptions import AirflowFailException

    if not recorded:
        raise AirflowFailException("the record task stored no result for this run")
    if recorded["status"] in {"BROKEN", "NO_DATA"}:
        raise AirflowFailException(
            f"{recorded['database']} is {recorded['status']} ({recorded['failure_kind']}); the result is recorded"
        )


def _notify(recorded, context: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    """Hand the recorded check to the alerting layer, when it is installed."""
    try:
        from integration_monitor.alerts.hooks import on_database_recorded
    except ModuleNotFoundError:
        return
    try:
        on_database_recorded(recorded, context)
    except Exception:  # noqa: BLE001 - alerting must never stop the monitoring
        log.exception("Alerting failed for %s; the check is recorded", recorded.result.database_code)


def _refresh_dashboard_aggregates() -> None:
    """Sum the new rows into the dashboard's hourly tables, so a page rarely has to do it itself."""
    try:
        from integration_monitor.dashboard.aggregate import refresh_aggregates
        from integration_monitor.store.engine import session_factory

        refresh_aggregates(session_factory())
    except Exception:  # noqa: BLE001 - the dashboard catches up on its next refresh
        log.exception("Refreshing the dashboard's hourly tables failed; the pages will refresh them")


def compact_task(keep_days: float, keep_detail_days: float) -> dict[str, Any]:
    """Delete raw rows older than the retention periods once the hourly tables contain them."""
    from integration_monitor.store.engine import session_factory
    from integration_monitor.store.migrate import upgrade
    from integration_monitor.store.retention import compact

    upgrade()
    result = compact(session_factory(), dt.timedelta(days=keep_days), keep_detail=dt.timedelta(days=keep_detail_days))
    return {
        "cutoff": result.cutoff.isoformat(timespec="seconds"),
        "checks_deleted": result.checks_deleted,
        "field_rows_deleted": result.field_rows_deleted,
        "access_rows_deleted": result.access_rows_deleted,
        "verdicts_deleted": result.verdicts_deleted,
        "seconds": round(result.seconds, 3),
    }


def rollup_task(context: dict[str, Any]) -> dict[str, Any]:
    from integration_monitor.pipeline.rollup_step import run_rollup

    run_id = context["run_id"]
    changes = run_rollup(_catalog(), run_id, dt.datetime.now(dt.UTC))
    try:
        from integration_monitor.alerts.hooks import on_services_evaluated
    except ModuleNotFoundError:
        pass
    else:
        try:
            on_services_evaluated(changes, context)
        except Exception:  # noqa: BLE001 - alerting must never stop the monitoring
            log.exception("Alerting failed for the service rollup %s; the verdicts are recorded", run_id)
    _refresh_dashboard_aggregates()
    ready = [item["service_number"] for item in changes if item["ready"]]
    not_ready = [item["service_number"] for item in changes if not item["ready"]]
    return {"ready": ready, "not_ready": not_ready}
