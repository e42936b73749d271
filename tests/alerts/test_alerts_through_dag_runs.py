"""Alerts through real DAG runs: ``dag.test()`` in a child process with its own Airflow home and
SQLite store, against the stub server, delivering to a local SMTP server and webhook receiver.

Each test uses its own national database, so the tests do not depend on each other's incidents.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from sqlalchemy import create_engine, text

from integration_monitor.catalog.loader import load_catalog, project_root
from integration_monitor.local.runtime import LocalPaths, airflow_environment, start_stub_server, stop
from tests.alerts.conftest import apprise_connection, smtp_connection
from tests.alerts.dag_runner import RESULT_PREFIX
from tests.alerts.receivers import Inbox, SmtpReceiver, WebhookReceiver, free_port

pytestmark = pytest.mark.airflow

REPO = project_root()


def free_port_block(size: int) -> int:
    """Return a base port whose next ``size`` ports are free on 127.0.0.1."""
    for _ in range(50):
        base = free_port()
        sockets = []
        try:
            for offset in range(size):
                probe = socket.socket()
                sockets.append(probe)
                probe.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
    raise RuntimeError(f"no block of {size} free ports found")


class DagRunner:
    """The ``tests.alerts.dag_runner`` child process, which runs DAGs on request."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log = log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.alerts.dag_runner"], env=env, cwd=REPO, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
        )
        self.results: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_output, daemon=True).start()

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(RESULT_PREFIX):
                self.results.put(line[len(RESULT_PREFIX):])
            else:
                self.log.write(line)
        self.results.put(json.dumps({"error": f"the DAG runner exited with code {self.process.wait()}"}))

    def run(self, dag_id: str, env: dict[str, str]) -> dict[str, str]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"dag_id": dag_id, "env": env}) + "\n")
        self.process.stdin.flush()
        result = json.loads(self.results.get(timeout=600))
        assert "error" not in result, f"{result['error']}\n{result.get('traceback', '')}; log: {self.log.name}"
        return result["states"]

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


@dataclass
class Monitor:
    """A stub server, a local Airflow home, a status store, a DAG runner and the alert receivers."""

    env: dict[str, str]
    runner: DagRunner
    base_port: int
    admin_token: str
    alerting_file: Path
    smtp: SmtpReceiver
    webhook: WebhookReceiver
    closed_port: int
    channels: list[dict[str, Any]] = field(default_factory=list)
    applied_env: set[str] = field(default_factory=set)

    def configure(self, **settings: Any) -> None:
        settings.setdefault("channels", self.channels)
        self.alerting_file.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")

    def set_fault(self, database: str, fault: str | None) -> None:
        self.set_scenario(database, {"fault": fault or "none"})

    def set_scenario(self, database: str, entry: dict[str, Any]) -> None:
        headers = {"X-Admin-Token": self.admin_token}
        url = f"http://127.0.0.1:{self.base_port}/admin/scenarios/{database}"
        response = requests.put(url, json=entry, headers=headers, timeout=10)
        assert response.status_code == 200, response.text

    def run(self, database: str, **env: str) -> dict[str, str]:
        """Run the database's DAG and the service rollup once through ``dag.test()``.

        ``env`` applies to this run only; the module's environment is restored for the next.
        """
        overrides = {key: self.env.get(key, "") for key in self.applied_env if key not in env}
        overrides.update(env)
        self.applied_env = set(env)
        return self.runner.run(f"monitor_{database}", overrides)

    def cli(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "integration_monitor.cli", *arguments], env=self.env,
                              capture_output=True, text=True, timeout=120)

    def query(self, url_key: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = create_engine(self.env[url_key])
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql), params)]
        finally:
            engine.dispose()

    def alerts(self, database: str) -> list[dict[str, Any]]:
        rows = self.query(
            "INTEGRATION_MONITOR_STORE_URL",
            "select id, kind, outcome, suppressed, affected_services from alerts "
            "where scope = 'database' and subject = :database order by id",
            database=database,
        )
        return [dict(zip(("id", "kind", "outcome", "suppressed", "services"), row)) for row in rows]

    def deliveries(self, alert_id: int) -> list[tuple[str, str, str | None]]:
        return self.query("INTEGRATION_MONITOR_STORE_URL",
                          "select channel, outcome, detail from alert_deliveries where alert_id = :id order by id",
                          id=alert_id)

    def posts_about(self, name: str) -> list[dict[str, Any]]:
        return [item["payload"] for item in self.webhook.inbox.snapshot() if name in item["payload"]["title"]]

    def mails_about(self, name: str) -> list[dict[str, Any]]:
        return [item for item in self.smtp.inbox.snapshot() if name in item["subject"]]


@pytest.fixture(scope="module")
def monitor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitor]:
    catalog = load_catalog()
    tmp = tmp_path_factory.mktemp("alerting-e2e")
    smtp = SmtpReceiver(Inbox()).start()
    webhook = WebhookReceiver(Inbox()).start()
    alerting_file = tmp / "alerting.yaml"
    extra = {
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "INTEGRATION_MONITOR_HOME": str(REPO),
        "INTEGRATION_MONITOR_STORE_URL": f"sqlite:///{tmp / 'status.db'}",
        "INTEGRATION_MONITOR_ALERTING": str(alerting_file),
        "INTEGRATION_MONITOR_RETRIES": "0",
        "INTEGRATION_MONITOR_READ_TIMEOUT": "5",
        "INTEGRATION_MONITOR_MAX_ATTEMPTS": "1",
        "INTEGRATION_MONITOR_LANG": "",
        "AIRFLOW_CONN_SMTP_ALERTS": smtp_connection(smtp.port),
        "AIRFLOW_CONN_APPRISE_ALERTS": apprise_connection(webhook.port),
    }
    env = airflow_environment(LocalPaths(tmp), extra)
    base_port = free_port_block(len(catalog.databases) + 1)
    process = start_stub_server(base_port, "healthy", env, tmp / "var" / "logs" / "stubs.log")
    try:
        prepared = subprocess.run(
            [sys.executable, "-m", "integration_monitor.local.sweep", "--base-port", str(base_port), "--prepare-only"],
            env=env, capture_output=True, text=True, timeout=300,
        )
        assert prepared.returncode == 0, prepared.stderr[-4000:]
        channels = [
            {"name": "webhook", "type": "apprise", "conn_id": "apprise_alerts", "tag": "ops"},
            {"name": "email", "type": "smtp", "conn_id": "smtp_alerts", "to": ["truc-ban@example.com"]},
        ]
        runner = DagRunner(env, tmp / "var" / "logs" / "dag-runner.log")
        try:
            yield Monitor(env, runner, base_port, env["STUB_ADMIN_TOKEN"], alerting_file, smtp, webhook, free_port(),
                          channels)
        finally:
            runner.stop()
    finally:
        stop(process)
        webhook.stop()
        smtp.stop()


def test_break_alerts_once_then_recovers(monitor: Monitor, catalog):
    database = catalog.database("dat_dai")
    monitor.configure(failure_threshold=1, reminder_interval_minutes=60)

    monitor.run(database.code)
    assert monitor.alerts(database.code) == []

    monitor.set_fault(database.code, "http_503")
    monitor.run(database.code)
    [opened] = monitor.alerts(database.code)
    assert (opened["kind"], opened["outcome"]) == ("opened", "sent")
    posts = monitor.posts_about(database.name)
    assert len(posts) == 1
    assert posts[0]["title"] == f"[Sự cố] {database.name}: mất kết nối"
    for service in catalog.services_reading(database.code):
        assert f"DVC-{service.number:02d} {service.name}" in posts[0]["message"]
    assert "HTTP 503" in posts[0]["message"]
    assert len(monitor.mails_about(database.name)) == 1

    monitor.run(database.code)  # still broken, long before the reminder interval
    assert len(monitor.alerts(database.code)) == 1
    assert len(monitor.posts_about(database.name)) == 1

    monitor.set_fault(database.code, None)
    monitor.run(database.code)
    assert [alert["kind"] for alert in monitor.alerts(database.code)] == ["opened", "recovered"]
    recovery = monitor.posts_about(database.name)[1]
    assert recovery["title"].startswith(f"[Đã khôi phục] {database.name}: hoạt động trở lại sau ")
    assert "Thời gian gián đoạn: " in recovery["message"]
    assert len(monitor.mails_about(database.name)) == 2

    monitor.run(database.code)  # healthy again: nothing more
    assert len(monitor.posts_about(database.name)) == 2


def test_incomplete_field_alerts_as_degraded(monitor: Monitor, catalog):
    database = catalog.database("giay_phep_lai_xe")
    [entry] = [item for item in catalog.service(14).databases if item.database == database.code]
    field = entry.required_fields[0]
    monitor.configure(failure_threshold=1, reminder_interval_minutes=60)

    monitor.set_scenario(database.code, {"completeness": [{"fields": [field], "missing_share": 0.5, "style": "null"}]})
    monitor.run(database.code)

    [alert] = monitor.alerts(database.code)
    assert alert["kind"] == "opened"
    [post] = monitor.posts_about(database.name)
    assert post["title"] == f"[Sự cố] {database.name}: chất lượng dữ liệu suy giảm"
    assert "Trạng thái: DEGRADED (chất lượng dữ liệu suy giảm)" in post["message"]
    assert f"Trường chưa đạt ngưỡng đầy đủ dữ liệu (1): {field} " in post["message"]
    assert f"DVC-14 {catalog.service(14).name}" in post["message"]
    monitor.set_fault(database.code, None)


def test_flapping_below_threshold_sends_nothing(monitor: Monitor, catalog):
    database = catalog.database("ho_tich")
    monitor.configure(failure_threshold=2, reminder_interval_minutes=60)

    for fault in ("http_503", None, "malformed_json", None):
        monitor.set_fault(database.code, fault)
        monitor.run(database.code)
    assert monitor.alerts(database.code) == []
    assert monitor.posts_about(database.name) == []

    monitor.set_fault(database.code, "http_503")
    monitor.run(database.code)
    assert monitor.alerts(database.code) == []
    monitor.run(database.code)
    assert [alert["kind"] for alert in monitor.alerts(database.code)] == ["opened"]
    assert "Số lần kiểm tra lỗi liên tiếp: 2" in monitor.posts_about(database.name)[0]["message"]
    monitor.set_fault(database.code, None)


def test_maintenance_window_suppresses_and_is_recorded(monitor: Monitor, catalog):
    database = catalog.database("viec_lam")
    monitor.configure(failure_threshold=1, reminder_interval_minutes=60)
    added = monitor.cli("maintenance", "add", database.code, "--duration", "2h", "--reason", "Nâng cấp máy chủ",
                        "--by", "tester")
    assert added.returncode == 0, added.stderr
    window_id = json.loads(monitor.cli("maintenance", "list", "--json").stdout)[-1]["id"]

    monitor.set_fault(database.code, "http_503")
    monitor.run(database.code)
    [suppressed] = monitor.alerts(database.code)
    assert (suppressed["kind"], suppressed["outcome"], suppressed["suppressed"]) == ("opened", "suppressed", 1)
    assert [outcome for _, outcome, _ in monitor.deliveries(suppressed["id"])] == ["suppressed", "suppressed"]
    assert monitor.posts_about(database.name) == []
    assert monitor.mails_about(database.name) == []
    history = json.loads(monitor.cli("alerts", "history", "--database", database.code, "--json").stdout)
    assert history[0]["maintenance_id"] == window_id

    ended = monitor.cli("maintenance", "end", str(window_id))
    assert ended.returncode == 0, ended.stderr
    monitor.run(database.code)
    assert [alert["outcome"] for alert in monitor.alerts(database.code)] == ["suppressed", "sent"]
    assert len(monitor.posts_about(database.name)) == 1
    monitor.set_fault(database.code, None)


def test_failing_channel_recorded_while_webhook_delivers(monitor: Monitor, catalog):
    database = catalog.database("ly_lich_tu_phap")
    monitor.configure(failure_threshold=1, reminder_interval_minutes=60)

    monitor.set_fault(database.code, "http_502")
    monitor.run(database.code, AIRFLOW_CONN_SMTP_ALERTS=smtp_connection(monitor.closed_port))

    [alert] = monitor.alerts(database.code)
    assert alert["outcome"] == "partial"
    webhook, email = monitor.deliveries(alert["id"])
    assert webhook == ("webhook", "sent", None)
    assert email[:2] == ("email", "failed")
    assert "ConnectionRefusedError" in email[2]
    assert len(monitor.posts_about(database.name)) == 1
    assert monitor.mails_about(database.name) == []
    record_states = monitor.query(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "select state from task_instance where dag_id = :dag and task_id = 'record'",
        dag=f"monitor_{database.code}",
    )
    assert record_states == [("success",)]
    monitor.set_fault(database.code, None)


def test_task_retries_alert_once_after_final_try(monitor: Monitor, catalog):
    database = catalog.database("nguoi_co_cong")
    monitor.configure(failure_threshold=1, reminder_interval_minutes=60)

    monitor.set_fault(database.code, "http_503")
    monitor.run(database.code, INTEGRATION_MONITOR_RETRIES="2", INTEGRATION_MONITOR_RETRY_DELAY_SECONDS="0")

    dag_id = f"monitor_{database.code}"
    [(fetch_tries, fetch_state)] = monitor.query(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "select try_number, state from task_instance where dag_id = :dag and task_id = 'fetch'", dag=dag_id)
    assert (fetch_tries, fetch_state) == (3, "failed")
    [(record_tries, record_started)] = monitor.query(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "select try_number, start_date from task_instance where dag_id = :dag and task_id = 'record'", dag=dag_id)
    assert record_tries == 1
    [(last_fetch_end,)] = monitor.query(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "select end_date from task_instance where dag_id = :dag and task_id = 'fetch'", dag=dag_id)

    [alert] = monitor.alerts(database.code)
    assert alert["kind"] == "opened"
    [(created_at,)] = monitor.query("INTEGRATION_MONITOR_STORE_URL", "select created_at from alerts where id = :id",
                                    id=alert["id"])
    assert _utc(created_at) >= _utc(last_fetch_end)
    assert _utc(record_started) >= _utc(last_fetch_end)
    assert len(monitor.posts_about(database.name)) == 1
    checks = monitor.query("INTEGRATION_MONITOR_STORE_URL",
                           "select count(*) from database_checks where database_code = :code", code=database.code)
    assert checks == [(1,)]
    monitor.set_fault(database.code, None)


def _utc(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
