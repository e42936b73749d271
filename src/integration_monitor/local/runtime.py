"""Paths, environment and child processes of a local installation under ``var/``."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from integration_monitor.catalog.loader import project_root
from integration_monitor.catalog.models import Catalog


@dataclass(frozen=True)
class LocalPaths:
    """State folders of a local installation; ``var`` defaults to ``<project>/var``."""

    root: Path
    var_dir: Path | None = None

    @property
    def var(self) -> Path:
        return self.var_dir or self.root / "var"

    @property
    def airflow_home(self) -> Path:
        return self.var / "airflow"

    @property
    def store_url(self) -> str:
        if self.var_dir is not None:
            return f"sqlite:///{self.var / 'status.db'}"
        return os.environ.get("INTEGRATION_MONITOR_STORE_URL") or f"sqlite:///{self.var / 'status.db'}"

    @property
    def secrets_file(self) -> Path:
        return self.var / "local-secrets.env"


def local_paths() -> LocalPaths:
    return LocalPaths(project_root())


def local_secrets(paths: LocalPaths) -> dict[str, str]:
    """Return the stub credentials and Airflow keys of this installation, generated on first use.

    They live in ``var/local-secrets.env`` (not in git); environment variables win over the file.
    """
    names = ("STUB_CLIENT_ID", "STUB_CLIENT_SECRET", "STUB_ADMIN_TOKEN", "AIRFLOW__API_AUTH__JWT_SECRET",
             "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY")
    stored: dict[str, str] = {}
    if paths.secrets_file.is_file():
        for line in paths.secrets_file.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key and value:
                stored[key.strip()] = value.strip()
    generated = {
        "STUB_CLIENT_ID": "integration-monitor",
        "STUB_CLIENT_SECRET": secrets.token_urlsafe(24),
        "STUB_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
        "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
    }
    values = {name: os.environ.get(name) or stored.get(name) or generated[name] for name in names}
    if values != stored:
        paths.var.mkdir(parents=True, exist_ok=True)
        paths.secrets_file.write_text("".join(f"{key}={value}\n" for key, value in values.items()), encoding="utf-8")
        paths.secrets_file.chmod(0o600)
    return values


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def airflow_environment(paths: LocalPaths, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment of a local Airflow on SQLite that loads the project's DAGs and plugins."""
    env = dict(os.environ)
    env.update(local_secrets(paths))
    env.update({
        "AIRFLOW_HOME": str(paths.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(paths.root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(paths.root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{paths.airflow_home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(paths.airflow_home / "logs"),
        "INTEGRATION_MONITOR_STORE_URL": paths.store_url,
        "INTEGRATION_MONITOR_HOME": str(paths.root),
        "GX_ANALYTICS_ENABLED": "False",
    })
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stub_ports(catalog: Catalog, base_port: int) -> dict[str, int]:
    """Return each database's port on the stub server: the base port plus one plus its catalog index."""
    return {database.code: base_port + 1 + index for index, database in enumerate(catalog.databases)}


def start_stub_server(
    base_port: int, scenario: str, env: dict[str, str], log_path: Path, timeout: float = 60.0
) -> subprocess.Popen[bytes]:
    """Start ``integration-monitor stubs serve`` in the background and wait until ``/healthz`` responds."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "integration_monitor.cli", "stubs", "serve",
               "--host", "127.0.0.1", "--port", str(base_port), "--scenario", scenario]
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the stub server exited with code {process.returncode}; see {log_path}")
        try:
            if requests.get(f"http://127.0.0.1:{base_port}/healthz", timeout=1).ok:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.3)
    process.terminate()
    raise RuntimeError(f"the stub server did not respond on port {base_port} within {timeout:.0f} s; see {log_path}")


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)
