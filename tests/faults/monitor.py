"""One monitor shared by the fault, privacy and surface tests of a test session.

It is the local Airflow and stub server of ``tests.pipeline.conftest.start_local_airflow`` with
three additions. The stub server marks every personal field with a canary prefix. Alerts go
to a webhook receiver on 127.0.0.1. Every sweep keeps its output in a log file, so that the
privacy test can search all of it. Sharing one monitor saves a start-up and several full
sweeps per test directory, and the privacy test searches what every earlier test left behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml
from sqlalchemy import create_engine, text

from integration_monitor.catalog.loader import load_catalog
from integration_monitor.local.runtime import stub_ports
from integration_monitor.pipeline.connections import connection_id
from tests.pipeline.conftest import LocalAirflow, start_local_airflow

CANARY_ENV = "STUB_CANARY_PREFIX"
WEBHOOK_CONN_ID = "im_faults_webhook"
PEAK_RSS_PREFIX = "PEAK_RSS_KB "
_RAN_LINE = re.compile(r"Ran (\S+) in ([0-9.]+) s: (\S+)")
# The sweep prints one "<DAG id><tab><state>" line per DAG run when it ends.
_STATE_LINE = re.compile(r"^(monitor_\w+)\t(\w+)$", re.MULTILINE)

# Runs the sweep module and reports the process's peak resident set size on stderr. dag.test()
# runs every task inside this process, so the peak covers the fetch of every DAG in the sweep.
_MEASURED_SWEEP = (
    "import resource, runpy, sys\n"
    "sys.argv = ['sweep', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('integration_monitor.local.sweep', run_name='__main__')\n"
    "finally:\n"
    f"    print({PEAK_RSS_PREFIX!r} + str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), file=sys.stderr)\n"
)


class WebhookReceiver:
    """The shared monitor's alert channel: an HTTP server that stores the body of every POST."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's method name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", errors="replace")
                with receiver._lock:
                    receiver.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.bodies)


@dataclass
class SweepResult:
    states: dict[str, str]
    seconds: float
    peak_rss_mb: float
    dag_seconds: dict[str, float]
    log_path: Path


@dataclass
class SharedMonitor:
    airflow: LocalAirflow
    webhook: WebhookReceiver
    canary_prefix: str
    ports: dict[str, int]
    sweep_logs: Path
    # Names of the sweep sets already run in this session, so later tests can skip them.
    completed: set[str] = field(default_factory=set)
    _sweep_count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def env(self) -> dict[str, str]:
        return self.airflow.env

    @property
    def store_url(self) -> str:
        return self.env["INTEGRATION_MONITOR_STORE_URL"]

    @property
    def var(self) -> Path:
        return self.airflow.paths.var

    @property
    def canary_pattern(self) -> re.Pattern[str]:
        """A marker of one record's personal value: the prefix followed by the record index."""
        return re.compile(re.escape(self.canary_prefix) + r"\d{6}")

    def sweep(self, *dag_ids: str, timeout: float = 900) -> SweepResult:
        """Run the DAGs (all when none given) and the rollup once, keeping the output in a log file."""
        with self._lock:
            self._sweep_count += 1
            log_path = self.sweep_logs / f"sweep-{self._sweep_count:03d}.log"
        command = [sys.executable, "-c", _MEASURED_SWEEP, "--base-port", str(self.airflow.stub.base_port),
                   "--skip-prepare"]
        if dag_ids:
            command += ["--only", *dag_ids]
        started = time.monotonic()
        with log_path.open("w", encoding="utf-8") as log_file:
            completed = subprocess.run(command, env={**self.env, "PYTHONUNBUFFERED": "1"}, stdout=log_file,
                                       stderr=subprocess.STDOUT, timeout=timeout, check=False)
        seconds = time.monotonic() - started
        assert completed.returncode == 0, f"sweep failed with exit {completed.returncode}; see {log_path}"

        log_text = log_path.read_text(encoding="utf-8", errors="replace")
        states = {match[1]: match[2] for match in _STATE_LINE.finditer(log_text)}
        peak = next(int(line[len(PEAK_RSS_PREFIX):]) for line in log_text.splitlines()
                    if line.startswith(PEAK_RSS_PREFIX))
        dag_seconds = {match[1]: float(match[2]) for match in _RAN_LINE.finditer(log_text)}
        return SweepResult(states, seconds, peak / 1024, dag_seconds, log_path)

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        engine = create_engine(self.store_url)
        try:
            with engine.connect() as connection:
                return [dict(row._mapping) for row in connection.execute(text(sql), params)]
        finally:
            engine.dispose()

    def admin(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, f"{self.airflow.stub.url}{path}", json=body, timeout=30,
                                headers={"X-Admin-Token": self.airflow.stub.admin_token})

    def set_scenarios(self, entries: dict[str, dict[str, Any]]) -> None:
        """Make every database healthy except those given, through the stub's admin API."""
        scenario = {"name": f"test-{uuid.uuid4().hex[:8]}", "databases": entries}
        response = self.admin("POST", "/admin/scenarios/load", {"scenario": scenario})
        assert response.status_code == 200, response.text

    def close_incidents(self, *database_codes: str) -> None:
        """Sweep the given databases healthy if an earlier test left an incident of theirs open."""
        names = ", ".join(f"'{code}'" for code in database_codes)
        still_open = self.rows(f"select distinct subject from incidents where scope = 'database' "
                               f"and closed_at is null and subject in ({names})")
        if still_open:
            self.set_scenarios({})
            self.sweep(*(f"monitor_{row['subject']}" for row in still_open))

    def load_scenario(self, name: str) -> None:
        self.airflow.stub.load(name)

    def connection_env(self, database_code: str, port: int | None = None, schema: str = "http",
                       password: str | None = None, **extra: Any) -> dict[str, str]:
        """Return an ``AIRFLOW_CONN_*`` variable that replaces a database's connection.

        Airflow reads connections from environment variables before its metadata database, so
        a sweep started with this variable uses another port, scheme, password or other extras
        for one database. An empty ``password`` leaves the password out.
        """
        options = {"agency_code": "VPCP", "api_version": "v1", "ca_pem_url": "/pki/ca.pem",
                   "read_timeout": 5.0, "max_attempts": 2, **extra}
        value = {
            "conn_type": "http",
            "host": "127.0.0.1",
            "port": port or self.ports[database_code],
            "schema": schema,
            "login": self.env["STUB_CLIENT_ID"],
            "password": self.env["STUB_CLIENT_SECRET"] if password is None else password,
            "extra": options,
        }
        if not value["password"]:
            del value["password"]
        return {f"AIRFLOW_CONN_{connection_id(database_code).upper()}": json.dumps(value)}

    @contextmanager
    def environment(self, variables: dict[str, str]) -> Iterator[None]:
        """Add variables to the environment of the sweeps run inside the block."""
        saved = {name: self.env.get(name) for name in variables}
        self.env.update(variables)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    self.env.pop(name, None)
                else:
                    self.env[name] = value


_shared: SharedMonitor | None = None
_users = 0
_teardown: list[Any] = []


def acquire(root: Path) -> SharedMonitor:
    """Return the session's shared monitor, starting it on first use under ``root``."""
    global _shared, _users
    _users += 1
    if _shared is None:
        _shared = _start(root)
    return _shared


def release() -> None:
    """Stop the shared monitor once its last user is done."""
    global _shared, _users
    _users -= 1
    if _users > 0 or _shared is None:
        return
    for step in reversed(_teardown):
        step()
    _teardown.clear()
    _shared = None


def _start(root: Path) -> SharedMonitor:
    canary = f"QZX{uuid.uuid4().hex[:8].upper()}"
    # The stub server reads the prefix from its environment. It is removed from the
    # environment of the sweeps afterwards, so that the prefix in the environment can never
    # be mistaken for a leaked record value.
    previous = os.environ.get(CANARY_ENV)
    os.environ[CANARY_ENV] = canary
    runtime = start_local_airflow(root, "healthy")
    try:
        airflow = next(runtime)
    finally:
        if previous is None:
            os.environ.pop(CANARY_ENV, None)
        else:
            os.environ[CANARY_ENV] = previous
    _teardown.append(runtime.close)
    airflow.env.pop(CANARY_ENV, None)

    webhook = WebhookReceiver().start()
    _teardown.append(webhook.stop)
    alerting = root / "alerting.yaml"
    alerting.write_text(yaml.safe_dump({
        "failure_threshold": 1,
        "reminder_interval_minutes": 0,
        "service_alerts": "uncovered",
        "channels": [{"name": "faults-webhook", "type": "apprise", "conn_id": WEBHOOK_CONN_ID, "tag": "ops"}],
    }), encoding="utf-8")
    airflow.env["INTEGRATION_MONITOR_ALERTING"] = str(alerting)
    airflow.env[f"AIRFLOW_CONN_{WEBHOOK_CONN_ID.upper()}"] = json.dumps({
        "conn_type": "apprise",
        "extra": {"config": [{"path": f"json://127.0.0.1:{webhook.port}/hook", "tag": "ops"}]},
    })

    sweep_logs = airflow.paths.var / "logs" / "sweeps"
    sweep_logs.mkdir(parents=True, exist_ok=True)
    ports = stub_ports(load_catalog(), airflow.stub.base_port)
    return SharedMonitor(airflow, webhook, canary, ports, sweep_logs)
