"""The production topology on one machine: Airflow with the CeleryExecutor, a Celery worker,
PostgreSQL and Redis, started from the same commands as docker-compose.yml.

``DistributedAirflow`` runs ``deploy/init.sh`` (both migrations), the stub server,
``deploy/create_stub_connections.py``, the Airflow components of ``local/up.py`` and a Celery
worker, each as a child process listening on 127.0.0.1 only. The native distributed test uses
it; nothing here creates or drops databases.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from integration_monitor.catalog.loader import project_root
from integration_monitor.local.runtime import free_port, start_stub_server, stop
from integration_monitor.local.up import AIRFLOW_COMPONENTS, airflow_command

log = logging.getLogger(__name__)

# The worker's Airflow arguments. --skip-serve-logs keeps it from serving logs on all
# interfaces (port 8793); in compose the api-server reads task logs from a shared volume.
CELERY_WORKER_COMMAND = ("celery", "worker", "--skip-serve-logs")

INIT_SCRIPT = Path("deploy") / "init.sh"
STUB_CONNECTIONS_SCRIPT = Path("deploy") / "create_stub_connections.py"
ADMIN_USER = "admin"


@dataclass(frozen=True)
class DistributedSettings:
    """Settings of one run of the topology: databases, broker, ports and working folder. Every
    database, queue and Redis key name is unique to the run."""

    run_name: str
    metadata_url: str
    store_url: str
    broker_url: str
    work_dir: Path
    stub_base_port: int
    api_port: int
    worker_concurrency: int = 4
    scenario: str = "appendix-2025"

    @property
    def queue(self) -> str:
        return f"{self.run_name}_queue"

    @property
    def celery_hostname(self) -> str:
        return f"{self.run_name}@%h"

    @property
    def redis_key_prefix(self) -> str:
        return f"{self.run_name}:"

    @property
    def logs(self) -> Path:
        return self.work_dir / "logs"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def worker_arguments(settings: DistributedSettings) -> list[str]:
    """Return the worker's arguments: the compose command plus this run's queue and name."""
    return [*CELERY_WORKER_COMMAND, "--queues", settings.queue, "--celery-hostname", settings.celery_hostname,
            "--concurrency", str(settings.worker_concurrency)]


def distributed_environment(settings: DistributedSettings) -> dict[str, str]:
    """Return the environment of every process of the run: the compose settings, on loopback."""
    root = project_root()
    airflow_home = settings.work_dir / "airflow"
    inherited = {name: value for name, value in os.environ.items()
                 if not name.startswith(("AIRFLOW", "INTEGRATION_MONITOR_", "STUB_"))}
    bin_dir = str(Path(sys.executable).parent)
    return {
        **inherited,
        "PATH": f"{bin_dir}{os.pathsep}{inherited.get('PATH', '/usr/bin:/bin')}",
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
        "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{settings.api_url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.metadata_url,
        "AIRFLOW__CELERY__BROKER_URL": settings.broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{settings.metadata_url}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(settings.worker_concurrency),
        # Every Redis key of the run starts with the prefix, and its tasks go to its own queue,
        # so runs that share the Redis server do not take each other's tasks.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": settings.redis_key_prefix,
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": settings.queue,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.api_port),
        "AIRFLOW__API__BASE_URL": settings.api_url,
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(64),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.logs / "tasks"),
        "INTEGRATION_MONITOR_HOME": str(root),
        "INTEGRATION_MONITOR_STORE_URL": settings.store_url,
        "INTEGRATION_MONITOR_SCHEDULE": "none",
        "INTEGRATION_MONITOR_RETRIES": "0",
        "GX_ANALYTICS_ENABLED": "False",
        "STUB_CLIENT_ID": "integration-monitor",
        "STUB_CLIENT_SECRET": secrets.token_urlsafe(24),
        "STUB_ADMIN_TOKEN": secrets.token_urlsafe(24),
    }


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


class DistributedAirflow:
    """Start and stop the whole topology of one run; use it as a context manager."""

    def __init__(self, settings: DistributedSettings) -> None:
        self.settings = settings
        self.env = distributed_environment(settings)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.admin_password = secrets.token_urlsafe(16)
        self._token: str | None = None

    def __enter__(self) -> DistributedAirflow:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        settings = self.settings
        settings.logs.mkdir(parents=True, exist_ok=True)
        airflow_home = Path(self.env["AIRFLOW_HOME"])
        airflow_home.mkdir(parents=True, exist_ok=True)
        # A password file written before the api-server starts fixes the admin's password.
        passwords_file = Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        passwords_file.write_text(json.dumps({ADMIN_USER: self.admin_password}), encoding="utf-8")

        self.run_step("init", ["bash", str(project_root() / INIT_SCRIPT)])
        self.processes["stubs"] = start_stub_server(settings.stub_base_port, settings.scenario, self.env,
                                                    settings.logs / "stubs.log")
        self.run_step("stub-connections", [sys.executable, str(project_root() / STUB_CONNECTIONS_SCRIPT),
                                           "--host", "127.0.0.1", "--base-port", str(settings.stub_base_port),
                                           "--read-timeout", "10", "--max-attempts", "2"])

        for name, arguments in AIRFLOW_COMPONENTS:
            self.start_process(name, [*airflow_command(), *arguments])
        self.start_process("worker", [*airflow_command(), *worker_arguments(settings)])
        self.wait_for_api_server()

    def run_step(self, name: str, command: list[str], timeout: float = 300.0) -> None:
        """Run a one-shot job to completion, raising with its log file on failure."""
        log_path = self.settings.logs / f"{name}.log"
        started = time.monotonic()
        with log_path.open("wb") as log_file:
            completed = subprocess.run(command, env=self.env, stdout=log_file, stderr=subprocess.STDOUT,
                                       timeout=timeout, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"{name} failed with exit code {completed.returncode}; see {log_path}")
        log.info("%s finished in %.1f s", name, time.monotonic() - started)

    def start_process(self, name: str, command: list[str]) -> None:
        with (self.settings.logs / f"{name}.log").open("ab") as log_file:
            # A session of its own lets stop() end the process together with its children.
            self.processes[name] = subprocess.Popen(command, env=self.env, stdout=log_file,
                                                    stderr=subprocess.STDOUT, start_new_session=True)

    def check_processes(self) -> None:
        """Raise if a component has exited, naming it and its log file."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}; "
                                   f"see {self.settings.logs / (name + '.log')}")

    def wait_for_api_server(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_processes()
            try:
                if requests.get(f"{self.settings.api_url}/api/v2/monitor/health", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise TimeoutError(f"the api-server did not respond on port {self.settings.api_port} within {timeout:.0f} s")

    def stop(self) -> None:
        # The worker first, so that it does not pick up work while the rest shuts down.
        for name in sorted(self.processes, key=lambda name: name != "worker"):
            _stop_session(self.processes[name])
        self.processes.clear()

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the REST API as the admin user; raise on an error status."""
        if self._token is None:
            response = requests.post(f"{self.settings.api_url}/auth/token", timeout=30,
                                     json={"username": ADMIN_USER, "password": self.admin_password})
            response.raise_for_status()
            self._token = response.json()["access_token"]
        response = requests.request(method, f"{self.settings.api_url}{path}", timeout=30,
                                    headers={"Authorization": f"Bearer {self._token}"}, **kwargs)
        if not response.ok:
            raise RuntimeError(f"{method} {path} failed with HTTP {response.status_code}: {response.text[:500]}")
        return response

    def wait_for_dags(self, dag_ids: set[str], timeout: float = 300.0) -> None:
        """Wait until the dag-processor has stored every DAG of ``dag_ids``."""
        deadline = time.monotonic() + timeout
        found: set[str] = set()
        while time.monotonic() < deadline:
            self.check_processes()
            listed = self.api("GET", "/api/v2/dags", params={"limit": 1000}).json()["dags"]
            found = {dag["dag_id"] for dag in listed}
            if dag_ids <= found:
                return
            time.sleep(3)
        raise TimeoutError(f"DAGs not parsed within {timeout:.0f} s: {sorted(dag_ids - found)}")

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, run_id: str) -> None:
        self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None})

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()["state"])

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}).json()["dag_runs"])

    def started_pids(self) -> set[int]:
        """Return the ids of every process the run started, children included."""
        import psutil

        pids: set[int] = set()
        for process in self.processes.values():
            try:
                parent = psutil.Process(process.pid)
                pids.add(parent.pid)
                pids.update(child.pid for child in parent.children(recursive=True))
            except psutil.NoSuchProcess:
                continue
        return pids


def _stop_session(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Stop a process started with a session of its own, and every process left in that session."""
    import signal

    if process.poll() is None:
        stop(process, timeout)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def listening_sockets(pids: set[int]) -> list[tuple[str, int]]:
    """Return ``(local address, pid)`` of every listening TCP socket that one of ``pids`` owns, from ``ss -ltnp``."""
    import re

    output = subprocess.run(["ss", "-H", "-ltnp"], capture_output=True, text=True, check=True, timeout=30).stdout
    sockets = []
    for line in output.splitlines():
        columns = line.split()
        if len(columns) < 6:
            continue
        # The process column may contain spaces (process titles such as "airflow api_server").
        for pid in (int(match) for match in re.findall(r"pid=(\d+)", " ".join(columns[5:]))):
            if pid in pids:
                sockets.append((columns[3], pid))
    return sockets


def free_port_block(count: int, attempts: int = 50) -> int:
    """Return a base port whose next ``count`` ports are all free on 127.0.0.1."""
    import socket

    for _attempt in range(attempts):
        base = free_port()
        if base + count >= 65535:
            continue
        probes: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError(f"no block of {count} free ports found on 127.0.0.1 after {attempts} attempts")
