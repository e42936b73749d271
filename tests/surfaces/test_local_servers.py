"""Every server the project starts listens on loopback only, and the dashboard refuses strangers.

``integration-monitor stubs serve`` runs with its default host, and ``integration-monitor up``
runs the stub server and a whole local Airflow (API server with the dashboard plugin, scheduler,
DAG processor, triggerer) from a project folder of its own. Every listening socket of their
process trees is read with psutil. Then every route of the dashboard's application, found by
walking the application rather than from a list, is requested on that API server without a
token, with a forged token and with a garbage cookie.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import psutil
import pytest
import requests

from integration_monitor.catalog.loader import project_root
from tests.surfaces import section

pytestmark = pytest.mark.airflow

START_TIMEOUT_SECONDS = 240
# Sample values for the path parameters of the dashboard's routes.
PATH_SAMPLES = {"number": "1", "code": "dan_cu", "database_code": "dan_cu", "file_format": "csv",
                "path": "dashboard.css", "filename": "dashboard.css"}
_PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")

def _free_port_block(size: int) -> int:
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + size >= 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + size):
                candidate = socket.socket()
                sockets.append(candidate)
                candidate.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for candidate in sockets:
                candidate.close()
    raise RuntimeError(f"no block of {size} free ports")


def listening_sockets(root_pid: int) -> list[tuple[str, str, int]]:
    """Return (process name, address, port) of every listening TCP socket of a process tree."""
    try:
        root = psutil.Process(root_pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    found = []
    for process in processes:
        try:
            name = " ".join(process.cmdline()[1:4])
            for connection in process.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN:
                    found.append((name, connection.laddr.ip, connection.laddr.port))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return sorted(set(found))


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback


def _stop_tree(process: subprocess.Popen[bytes]) -> None:
    """Stop a process this test started, then any of its children still running, by pid."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    for child in children:
        try:
            child.terminate()
            child.wait(20)
        except psutil.NoSuchProcess:
            continue
        except psutil.TimeoutExpired:
            child.kill()


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the process exited with code {process.returncode}; see {log}"
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s; see {log}")


def test_stub_server_listens_on_loopback_by_default(tmp_path: Path) -> None:
    from integration_monitor.catalog.loader import load_catalog

    base = _free_port_block(len(load_catalog().databases) + 1)
    env = {**os.environ, "STUB_CLIENT_SECRET": "surface-test-secret", "STUB_ADMIN_TOKEN": "surface-admin-token"}
    log = tmp_path / "stubs.log"
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "integration_monitor.cli", "stubs", "serve", "--port",
                                    str(base), "--scenario", "healthy"], env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
    try:
        _wait_for(f"http://127.0.0.1:{base}/healthz", process, log)
        sockets = listening_sockets(process.pid)
    finally:
        _stop_tree(process)

    section.record("stub", "`integration-monitor stubs serve` (no --host)",
                   f"{len(sockets)} listening sockets, all on loopback: {all(is_loopback(item[1]) for item in sockets)}")
    assert len(sockets) >= 2
    assert [item for item in sockets if not is_loopback(item[1])] == []


@dataclass
class LocalStack:
    process: subprocess.Popen[bytes]
    api_url: str
    root: Path
    log: Path

    @property
    def dashboard_url(self) -> str:
        return f"{self.api_url}/integration-monitor"

    def admin_password(self) -> str:
        generated = self.root / "var" / "airflow" / "simple_auth_manager_passwords.json.generated"
        return str(json.loads(generated.read_text(encoding="utf-8"))["admin"])


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Run ``integration-monitor up`` from a project folder of its own, whose var/ is temporary."""
    repository = project_root()
    root = tmp_path_factory.mktemp("up-project")
    for name in ("include", "dags", "plugins", "expectations"):
        (root / name).symlink_to(repository / name, target_is_directory=True)
    from integration_monitor.catalog.loader import load_catalog

    stub_port = _free_port_block(len(load_catalog().databases) + 1)
    api_port = _free_port_block(1)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "INTEGRATION_MONITOR_"))}
    env["INTEGRATION_MONITOR_HOME"] = str(root)
    env["GX_ANALYTICS_ENABLED"] = "False"
    log = root / "up.log"
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "integration_monitor.cli", "up", "--scenario", "healthy",
                                    "--port", str(stub_port), "--api-port", str(api_port)], env=env, cwd=root,
                                   stdout=output, stderr=subprocess.STDOUT)
    stack = LocalStack(process, f"http://127.0.0.1:{api_port}", root, log)
    try:
        _wait_for(f"{stack.api_url}/api/v2/monitor/health", process, log)
        yield stack
    finally:
        _stop_tree(process)


def test_local_airflow_listens_on_loopback(local_stack: LocalStack) -> None:
    # The scheduler and triggerer would open their log servers a little after the API server responds.
    time.sleep(10)
    sockets = listening_sockets(local_stack.process.pid)
    exposed = [item for item in sockets if not is_loopback(item[1])]
    section.record("up", "`integration-monitor up` (stub server, API server, scheduler, DAG processor, triggerer)",
                   f"{len(sockets)} listening sockets, on an address other than loopback: {len(exposed)}")
    ports = {port for _, _, port in sockets}
    assert int(local_stack.api_url.rsplit(":", 1)[1]) in ports
    assert exposed == [], exposed


def dashboard_paths() -> list[str]:
    """Return one concrete path per route of the dashboard application."""
    from integration_monitor.dashboard.app import create_app

    app = create_app(store_url="sqlite://")
    paths = set()
    for route in app.routes:
        path = getattr(route, "path", None)
        if path is None:
            continue
        paths.add(_PARAMETER.sub(lambda match: PATH_SAMPLES.get(match[1], "x"), path))
    return sorted(paths)


def test_dashboard_has_routes_to_check() -> None:
    assert len(dashboard_paths()) >= 10


def test_every_dashboard_route_refuses_strangers(local_stack: LocalStack) -> None:
    forged = jwt.encode({"sub": "admin", "role": "admin", "aud": "apache-airflow"}, "not-the-secret" * 5,
                        algorithm="HS512")
    attempts = {"no token": {}, "forged token": {"headers": {"Authorization": f"Bearer {forged}"}},
                "garbage cookie": {"cookies": {"_token": "garbage"}}}
    admitted = []
    checked = 0
    for path in dashboard_paths():
        for name, options in attempts.items():
            response = requests.get(local_stack.dashboard_url + path, allow_redirects=False, timeout=60, **options)
            checked += 1
            refused = response.status_code in (401, 403) or (
                response.status_code in (302, 303, 307) and "/auth/login" in response.headers.get("location", ""))
            if not refused:
                admitted.append((path, name, response.status_code))

    token = requests.post(f"{local_stack.api_url}/auth/token", timeout=30,
                          json={"username": "admin", "password": local_stack.admin_password()}).json()["access_token"]
    allowed = requests.get(f"{local_stack.dashboard_url}/api/matrix", timeout=60,
                           headers={"Authorization": f"Bearer {token}"})
    section.record("dashboard", f"every route of the dashboard application ({len(dashboard_paths())} paths) without "
                   "a token, with a forged token and with a garbage cookie, on the API server of `integration-monitor up`",
                   f"requests let through: {len(admitted)} of {checked}; with a real token: HTTP {allowed.status_code}")
    assert admitted == []
    assert allowed.status_code == 200
