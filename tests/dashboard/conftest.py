"""Fixtures of the dashboard tests: a store with synthetic history and a real Airflow API server."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.dashboard.stores import fill_store

REPO = Path(__file__).resolve().parents[2]
HISTORY_DAYS = 3


@pytest.fixture(scope="session")
def history_store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store with three days of 5-minute history (field rows for the last day)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard-store') / 'status.db'}"
    fill_store(url, HISTORY_DAYS)
    return url


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class AirflowServer:
    base_url: str
    username: str
    password: str
    home: Path
    store_url: str

    @property
    def dashboard_url(self) -> str:
        return f"{self.base_url}/integration-monitor"

    def token(self) -> str:
        response = requests.post(f"{self.base_url}/auth/token", json={"username": self.username,
                                                                      "password": self.password}, timeout=30)
        response.raise_for_status()
        return str(response.json()["access_token"])


@pytest.fixture(scope="session")
def airflow_server(tmp_path_factory: pytest.TempPathFactory, history_store_url: str) -> Iterator[AirflowServer]:
    """Start ``airflow api-server`` on 127.0.0.1 with the project's plugins and the simple auth manager.

    The user ``operator`` (role viewer) gets a password that Airflow generates into
    ``simple_auth_manager_passwords.json.generated``; no setting makes every user an admin.
    """
    home = tmp_path_factory.mktemp("airflow-home")
    port = _free_port()
    env = dict(os.environ)
    env.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", None)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "operator:viewer",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "INTEGRATION_MONITOR_STORE_URL": history_store_url,
        "INTEGRATION_MONITOR_HOME": str(REPO),
        "INTEGRATION_MONITOR_LANG": "vi",
    })
    (home / "dags").mkdir()
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=(home / "migrate.log").open("wb"))

    log_path = home / "api-server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "airflow", "api-server", "--port", str(port)],
                                   env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, base_url, log_path)
        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        yield AirflowServer(base_url, "operator", passwords["operator"], home, history_store_url)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log_path: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow api-server exited with code {process.returncode}; see {log_path}:\n"
                               + log_path.read_text(errors="replace")[-3000:])
        try:
            if requests.get(f"{base_url}/api/v2/monitor/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"airflow api-server did not answer within {timeout:.0f} s; see {log_path}")
