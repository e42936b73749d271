"""The maintain_status_store DAG compacts the status store through a real Airflow run."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from integration_monitor.dashboard.history import HistoryOptions, generate_history
from integration_monitor.local.runtime import LocalPaths, airflow_environment
from integration_monitor.store.engine import session_factory
from integration_monitor.store.migrate import upgrade
from integration_monitor.store.models import DatabaseCheck, FieldCheck, ServiceStatusRow

REPO = Path(__file__).resolve().parents[2]

RUN_SCRIPT = """
import json
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.db import initdb
initdb()
bag = DagBag(dag_folder={folder!r})
assert not bag.import_errors, bag.import_errors
dag = bag.get_dag("maintain_status_store")
run = dag.test()
task = run.get_task_instance("compact_store")
print("RESULT " + json.dumps({{"state": str(run.state), "task": str(task.state),
                              "schedule": dag.timetable.expression}}))
"""


def count(url: str, model: type, *conditions) -> int:  # type: ignore[no-untyped-def]
    with session_factory(url)() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0)


@pytest.fixture()
def filled_store(tmp_path: Path, catalog) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'status.db'}"
    upgrade(url)
    end = dt.datetime.now(dt.UTC).replace(microsecond=0)
    options = HistoryOptions(start=end - dt.timedelta(days=3), end=end, interval=dt.timedelta(minutes=30))
    with session_factory(url).begin() as session:
        generate_history(session, catalog, options)
    return url


def test_compaction_dag_deletes_old_rows(tmp_path: Path, filled_store: str):
    settings = tmp_path / "monitoring.yaml"
    text = (REPO / "include" / "monitoring.yaml").read_text(encoding="utf-8")
    settings.write_text(text.replace("keep_days: 35", "keep_days: 1").replace("keep_detail_days: 7",
                                                                              "keep_detail_days: 0.5"),
                        encoding="utf-8")
    old_before = count(filled_store, DatabaseCheck,
                       DatabaseCheck.checked_at < dt.datetime.now(dt.UTC) - dt.timedelta(days=1, hours=1))
    assert old_before > 0
    half_day_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=12, minutes=30)
    old_checks = select(DatabaseCheck.id).where(DatabaseCheck.checked_at < half_day_ago)
    assert count(filled_store, FieldCheck, FieldCheck.check_id.in_(old_checks)) > 0
    paths = LocalPaths(REPO, tmp_path / "var")
    paths.airflow_home.mkdir(parents=True, exist_ok=True)
    env = airflow_environment(paths, {
        "INTEGRATION_MONITOR_STORE_URL": filled_store,
        "INTEGRATION_MONITOR_SETTINGS": str(settings),
        "INTEGRATION_MONITOR_CACHE_DIR": str(tmp_path / "plan-cache"),
    })
    env.pop("INTEGRATION_MONITOR_COMPACT_SCHEDULE", None)

    completed = subprocess.run([sys.executable, "-c", RUN_SCRIPT.format(folder=str(REPO / "dags"))], env=env,
                               capture_output=True, text=True, timeout=600, check=False)

    assert completed.returncode == 0, completed.stderr[-4000:]
    [line] = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    assert result["task"] == "success"
    assert result["state"] == "success"
    assert result["schedule"] == "30 19 * * *"
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    assert count(filled_store, DatabaseCheck, DatabaseCheck.checked_at < cutoff - dt.timedelta(minutes=30)) == 0
    assert count(filled_store, ServiceStatusRow,
                 ServiceStatusRow.evaluated_at < cutoff - dt.timedelta(minutes=30)) == 0
    assert count(filled_store, DatabaseCheck) > 0
    assert count(filled_store, FieldCheck, FieldCheck.check_id.in_(old_checks)) == 0


def test_settings_reject_detail_longer_than_raw(tmp_path: Path):
    from integration_monitor.catalog.errors import CatalogError
    from integration_monitor.pipeline.settings import load_settings

    settings = tmp_path / "monitoring.yaml"
    settings.write_text("keep_days: 3\nkeep_detail_days: 5\n", encoding="utf-8")

    with pytest.raises(CatalogError, match="keep_detail_days"):
        load_settings(str(settings))
