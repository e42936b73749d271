"""What parsing the DAG folder imports and builds, checked in fresh interpreters.

``test_dag_policy.test_parsing_imports_no_heavy_modules`` already parses the DAG folder alone
and checks that pandas and Great Expectations stay out. These tests cover the other ways
Airflow parses it: after loading the plugins folder, as every Airflow component does; with
a catalog four times as large; and with the parsing context that a worker sets to run one
task, in which only that task's DAG is built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# numpy and scipy come with pandas and GX; the store and the dashboard load only in tasks and in
# the API server. Airflow itself imports SQLAlchemy and Jinja2, so those are not listed.
HEAVY_MODULES = (
    "pandas", "great_expectations", "numpy", "scipy", "fastapi", "integration_monitor.store",
    "integration_monitor.dashboard",
)

PARSE_SCRIPT = """
import json, sys
{before}
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={folder!r})
heavy = [name for name in {heavy!r} if name in sys.modules]
print(json.dumps({{"errors": {{str(k): str(v) for k, v in bag.import_errors.items()}},
                  "dag_ids": sorted(bag.dag_ids), "heavy": heavy}}))
"""

LOAD_PLUGINS = """
from airflow import plugins_manager
plugins_manager.ensure_plugins_loaded()
names = [item["name"] for item in plugins_manager.get_plugin_info()]
assert "integration_monitor" in names, names
assert not plugins_manager.get_import_errors(), plugins_manager.get_import_errors()
"""


def parse_in_subprocess(folder: Path, env: dict[str, str] | None = None, before: str = "") -> dict:
    script = PARSE_SCRIPT.format(before=before, folder=str(folder), heavy=HEAVY_MODULES)
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def scaled_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from scaled_catalog import write_scaled_project
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return write_scaled_project(tmp_path_factory.mktemp("scaled") / "project", 4)


def test_plugins_and_dags_import_no_heavy_modules():
    plugins = {"AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins")}
    result = parse_in_subprocess(REPO / "dags", plugins, before=LOAD_PLUGINS)

    assert result["errors"] == {}
    assert len(result["dag_ids"]) == 18
    assert result["heavy"] == []


def test_scaled_catalog_imports_no_heavy_modules(scaled_project: Path):
    env = {
        "INTEGRATION_MONITOR_HOME": str(scaled_project),
        "INTEGRATION_MONITOR_CATALOG": str(scaled_project / "include" / "appendix_data"),
        "INTEGRATION_MONITOR_THRESHOLDS": str(scaled_project / "include" / "thresholds.yaml"),
    }
    result = parse_in_subprocess(scaled_project / "dags", env)

    assert result["errors"] == {}
    assert len(result["dag_ids"]) == 66
    assert "monitor_dan_cu_x4" in result["dag_ids"]
    assert result["heavy"] == []


@pytest.mark.parametrize("dag_id", ["monitor_dan_cu", "monitor_services"])
def test_parsing_context_builds_one_dag(dag_id: str):
    result = parse_in_subprocess(REPO / "dags", {"_AIRFLOW_PARSING_CONTEXT_DAG_ID": dag_id})

    assert result["errors"] == {}
    assert result["dag_ids"] == [dag_id]


def test_parsing_context_of_other_dag_builds_all():
    result = parse_in_subprocess(REPO / "dags", {"_AIRFLOW_PARSING_CONTEXT_DAG_ID": "someone_elses_dag"})

    assert result["errors"] == {}
    assert len(result["dag_ids"]) == 18
