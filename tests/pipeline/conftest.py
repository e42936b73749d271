"""A running stub server and a local Airflow home for end-to-end DAG runs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from integration_monitor.catalog.loader import load_catalog, project_root
from integration_monitor.local.commands import _free_port_block
from integration_monitor.local.runtime import (
    LocalPaths,
    airflow_environment,
    free_port,
    start_stub_server,
    stop,
)


@dataclass
class StubServer:
    base_port: int
    admin_token: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.base_port}"

    def set_scenario(self, database: str, entry: dict[str, Any]) -> None:
        response = requests.put(f"{self.url}/admin/scenarios/{database}", json=entry,
                                headers={"X-Admin-Token": self.admin_token}, timeout=10)
        assert response.status_code == 200, response.text

    def load(self, name: str) -> None:
        response = requests.post(f"{self.url}/admin/scenarios/load", json={"name": name},
                                 headers={"X-Admin-Token": self.admin_token}, timeout=10)
        assert response.status_code == 200, response.text

    def reset(self) -> None:
        response = requests.post(f"{self.url}/admin/reset", headers={"X-Admin-Token": self.admin_token}, timeout=10)
        assert response.status_code == 200, response.text


@dataclass
class LocalAirflow:
    paths: LocalPaths
    env: dict[str, str]
    stub: StubServer

    def sweep(self, *dag_ids: str) -> dict[str, str]:
        """Run the given DAGs (all when none given) and the rollup once through Airflow."""
        command = [sys.executable, "-m", "integration_monitor.local.sweep", "--base-port", str(self.stub.base_port),
                   "--skip-prepare"]
        if dag_ids:
            command += ["--only", *dag_ids]
        completed = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=900)
        assert completed.returncode == 0, completed.stderr[-4000:]
        return dict(line.split("\t", 1) for line in completed.stdout.splitlines() if "\t" in line)

    def cli(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "integration_monitor.cli", *arguments], env=self.env,
                              capture_output=True, text=True, timeout=300)

    def status(self) -> dict[str, Any]:
        completed = self.cli("status", "--json")
        assert completed.returncode == 0, completed.stderr[-4000:]
        return json.loads(completed.stdout)


def start_local_airflow(tmp: Path, scenario: str, store_url: str | None = None) -> Iterator[LocalAirflow]:
    catalog = load_catalog()
    paths = LocalPaths(project_root(), tmp / "var")
    extra = {"INTEGRATION_MONITOR_RETRIES": "0", "INTEGRATION_MONITOR_READ_TIMEOUT": "5"}
    if store_url:
        extra["INTEGRATION_MONITOR_STORE_URL"] = store_url
    env = airflow_environment(paths, extra)
    base_port = _free_port_block(len(catalog.databases) + 1, free_port)
    process = start_stub_server(base_port, scenario, env, paths.var / "logs" / "stubs.log")
    try:
        stub = StubServer(base_port, env["STUB_ADMIN_TOKEN"])
        prepared = subprocess.run(
            [sys.executable, "-m", "integration_monitor.local.sweep", "--base-port", str(base_port), "--prepare-only"],
            env=env, capture_output=True, text=True, timeout=300,
        )
        assert prepared.returncode == 0, prepared.stderr[-4000:]
        yield LocalAirflow(paths, env, stub)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def local_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAirflow]:
    yield from start_local_airflow(tmp_path_factory.mktemp("airflow"), "healthy")


@pytest.fixture()
def store_rows(local_airflow: LocalAirflow) -> Callable[[str], list[tuple[Any, ...]]]:
    from sqlalchemy import create_engine, text

    def query(sql: str) -> list[tuple[Any, ...]]:
        engine = create_engine(local_airflow.env["INTEGRATION_MONITOR_STORE_URL"])
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql))]
        finally:
            engine.dispose()

    return query


