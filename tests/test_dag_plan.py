"""The DAG plan cache: same DAGs with and without it, and a change to any input misses it.

Each test parses the DAG folder in a fresh interpreter, as the dag-processor does, with a
catalog copied into its own folder and a cache folder of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PARSE_SCRIPT = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={folder!r})
dags = {{}}
for dag_id, dag in sorted(bag.dags.items()):
    dags[dag_id] = {{
        "description": dag.description,
        "schedule": getattr(dag.timetable, "expression", None),
        "doc_md": dag.doc_md,
        "tags": sorted(dag.tags),
        "tasks": [[task.task_id, task.owner, task.retries, task.retry_delay.total_seconds(),
                   str(task.trigger_rule), sorted(task.upstream_task_ids)] for task in dag.tasks],
    }}
loaded = [name for name in ("integration_monitor.catalog.loader", "integration_monitor.catalog.models",
                            "integration_monitor.pipeline.settings") if name in sys.modules]
print(json.dumps({{"errors": {{str(k): str(v) for k, v in bag.import_errors.items()}},
                  "dags": dags, "loaded": loaded}}, ensure_ascii=False))
"""


@pytest.fixture()
def project(tmp_path: Path) -> dict[str, str]:
    """A copy of the catalog and settings, and an empty cache folder, as environment variables."""
    catalog = tmp_path / "appendix_data"
    shutil.copytree(REPO / "include" / "appendix_data", catalog)
    settings = tmp_path / "monitoring.yaml"
    shutil.copyfile(REPO / "include" / "monitoring.yaml", settings)
    return {
        "INTEGRATION_MONITOR_CATALOG": str(catalog),
        "INTEGRATION_MONITOR_SETTINGS": str(settings),
        "INTEGRATION_MONITOR_CACHE_DIR": str(tmp_path / "cache"),
    }


def parse(env: dict[str, str]) -> dict:
    names = [name for name in os.environ if name.startswith("INTEGRATION_MONITOR_SCHEDULE")]
    base = {key: value for key, value in os.environ.items() if key not in names}
    completed = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT.format(folder=str(REPO / "dags"))],
        capture_output=True, text=True, check=False, env={**base, **env}, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def cached_plans(env: dict[str, str]) -> list[Path]:
    return sorted(Path(env["INTEGRATION_MONITOR_CACHE_DIR"]).glob("dag-plan-*.json"))


def test_cached_plan_skips_catalog_read(project: dict[str, str]):
    uncached = parse({**project, "INTEGRATION_MONITOR_CACHE_DIR": "off"})
    first = parse(project)
    second = parse(project)

    assert uncached["errors"] == first["errors"] == second["errors"] == {}
    assert len(uncached["dags"]) == 18
    assert first["dags"] == uncached["dags"]
    assert second["dags"] == uncached["dags"]
    assert "integration_monitor.catalog.loader" in first["loaded"]
    assert second["loaded"] == []
    assert len(cached_plans(project)) == 1


def test_changed_catalog_file_is_read_again(project: dict[str, str]):
    parse(project)
    databases = Path(project["INTEGRATION_MONITOR_CATALOG"]) / "databases.yaml"
    text = databases.read_text(encoding="utf-8")
    assert "Cơ sở dữ liệu quốc gia về dân cư" in text
    databases.write_text(text.replace("Cơ sở dữ liệu quốc gia về dân cư", "CSDL dân cư (đổi tên)", 1), encoding="utf-8")

    result = parse(project)

    assert result["errors"] == {}
    assert result["dags"]["monitor_dan_cu"]["description"] == "Giám sát kết nối CSDL dân cư (đổi tên)"
    assert "integration_monitor.catalog.loader" in result["loaded"]
    assert len(cached_plans(project)) == 2


def test_broken_catalog_still_fails_file(project: dict[str, str]):
    parse(project)
    services = Path(project["INTEGRATION_MONITOR_CATALOG"]) / "services.yaml"
    services.write_text(services.read_text(encoding="utf-8").replace("dan_cu", "dan_cuu", 1), encoding="utf-8")

    result = parse(project)

    assert result["dags"] == {}
    [message] = result["errors"].values()
    assert "services.yaml" in message
    assert "dan_cuu" in message


def test_schedule_from_the_environment_misses_the_cache(project: dict[str, str]):
    parse(project)

    result = parse({**project, "INTEGRATION_MONITOR_SCHEDULE__DAN_CU": "*/5 * * * *"})

    assert result["dags"]["monitor_dan_cu"]["schedule"] == "*/5 * * * *"
    assert result["dags"]["monitor_ho_tich"]["schedule"] == "*/15 * * * *"
    assert "*/5 * * * *" in result["dags"]["monitor_dan_cu"]["doc_md"]


def test_settings_file_change_misses_the_cache(project: dict[str, str]):
    parse(project)
    settings = Path(project["INTEGRATION_MONITOR_SETTINGS"])
    text = settings.read_text(encoding="utf-8")
    assert "\nretries: 2\n" in text
    settings.write_text(text.replace("\nretries: 2\n", "\nretries: 4\n"), encoding="utf-8")

    result = parse(project)

    assert {task[2] for task in result["dags"]["monitor_dan_cu"]["tasks"] if task[0] == "fetch"} == {4}


@pytest.mark.parametrize("garbage", ["{not json", '{"key": 1}', "[]", ""])
def test_damaged_cache_file_is_made_again(project: dict[str, str], garbage: str):
    reference = parse(project)
    [plan_file] = cached_plans(project)
    key = json.loads(plan_file.read_text(encoding="utf-8"))["key"]
    damaged = garbage if garbage else json.dumps({"key": key, "plan": {"databases": [{"code": "x"}]}})
    plan_file.write_text(damaged, encoding="utf-8")

    result = parse(project)

    assert result["errors"] == {}
    assert result["dags"] == reference["dags"]
    assert json.loads(plan_file.read_text(encoding="utf-8"))["key"] == key


def test_unwritable_cache_folder_builds_dags(project: dict[str, str], tmp_path: Path):
    blocker = tmp_path / "a-file-not-a-folder"
    blocker.write_text("", encoding="utf-8")

    result = parse({**project, "INTEGRATION_MONITOR_CACHE_DIR": str(blocker / "cache")})

    assert result["errors"] == {}
    assert len(result["dags"]) == 18


def test_only_the_newest_plans_are_kept(project: dict[str, str]):
    from integration_monitor.dags.plan import PLANS_KEPT

    for minutes in range(1, PLANS_KEPT + 3):
        parse({**project, "INTEGRATION_MONITOR_SCHEDULE": f"*/{minutes} * * * *"})

    assert len(cached_plans(project)) == PLANS_KEPT
