"""Detection latency: from an endpoint breaking to the alert's delivery, in polling intervals.

A real Airflow runs on SQLite with the LocalExecutor (api-server, scheduler and
dag-processor, as ``integration-monitor up`` starts them) against the stub server.
``monitor_dan_cu`` is scheduled every minute and every other database DAG is unscheduled;
the service rollup follows on its asset as usual. Alerts go through an Apprise ``json://``
channel to a webhook receiver in this process, which notes when each POST arrives.

Each trial breaks ``dan_cu`` through the stub's admin API (the ``refused`` fault: its port
closes) and waits for the alert, then makes it healthy again and waits for the recovery
alert. The first trial breaks it right after a healthy check is stored: the poll has just
read good data, so only the next poll sees the break. With ``--trials 2`` a second trial
breaks it at a random moment of the interval, a typical case.

The worst case is a break just after a poll read its records: the next poll, one interval
later, sees it, and the alert leaves when that poll's record task finishes. The script
prints that bound, the interval plus the time from a failing run's due time to its alert,
and judges the target on it as well as on the measured latency.

Task retries are off (``INTEGRATION_MONITOR_RETRIES=0``, as in ``demo``), so a failed fetch
is final at once; the fetch layer's own HTTP attempts still apply. With task retries, each
retry delay adds to the latency.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from common import PROJECT_ROOT, Result, argument_parser, finish, project_python, ratio

sys.path.insert(0, str(PROJECT_ROOT))

DATABASE = "dan_cu"
DAG_ID = f"monitor_{DATABASE}"
INTERVAL_SECONDS = 60.0
COMPONENTS = (("api-server", ["api-server"]), ("scheduler", ["scheduler", "--skip-serve-logs"]),
              ("dag-processor", ["dag-processor"]))


class LocalAirflow:
    """Stub server, alert receiver and Airflow components for one measurement, in a temporary folder."""

    def __init__(self, work: Path) -> None:
        from bench_sweep import free_port_block
        from integration_monitor.catalog.loader import load_catalog
        from integration_monitor.local.runtime import LocalPaths, airflow_environment, free_port
        from tests.alerts.receivers import Inbox, WebhookReceiver

        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True)
        self.catalog = load_catalog(PROJECT_ROOT / "include" / "appendix_data")
        self.base_port = free_port_block(len(self.catalog.databases) + 1)
        self.receiver = WebhookReceiver(Inbox()).start()
        self.admin_token = secrets.token_urlsafe(24)
        api_port = free_port()
        alerting = work / "alerting.yaml"
        alerting.write_text(json.dumps({
            "failure_threshold": 1, "reminder_interval_minutes": 0, "service_alerts": "off",
            "channels": [{"name": "bench-webhook", "type": "apprise", "conn_id": "apprise_bench", "tag": "ops"}],
        }), encoding="utf-8")
        apprise = {"conn_type": "apprise",
                   "extra": {"config": [{"path": f"json://127.0.0.1:{self.receiver.port}/hook", "tag": "ops"}]}}
        self.paths = LocalPaths(PROJECT_ROOT, var_dir=work / "var")
        self.env = airflow_environment(self.paths, {
            "STUB_ADMIN_TOKEN": self.admin_token,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_APPRISE_BENCH": json.dumps(apprise),
            "INTEGRATION_MONITOR_ALERTING": str(alerting),
            "INTEGRATION_MONITOR_RETRIES": "0",
            "INTEGRATION_MONITOR_SCHEDULE": "none",
            f"INTEGRATION_MONITOR_SCHEDULE__{DATABASE.upper()}": "* * * * *",
        })
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        from integration_monitor.local.runtime import start_stub_server

        self.processes.append(start_stub_server(self.base_port, "healthy", self.env, self.logs / "stubs.log"))
        subprocess.run([project_python(), "-m", "integration_monitor.local.sweep", "--base-port", str(self.base_port),
                        "--prepare-only"], env=self.env, check=True, stdout=subprocess.DEVNULL,
                       stderr=(self.logs / "prepare.log").open("wb"))
        for name, arguments in COMPONENTS:
            with (self.logs / f"{name}.log").open("ab") as log_file:
                self.processes.append(subprocess.Popen([project_python(), "-m", "airflow", *arguments], env=self.env,
                                                       stdout=log_file, stderr=subprocess.STDOUT))

    def stop(self) -> None:
        from integration_monitor.local.runtime import stop

        for process in reversed(self.processes):
            stop(process)
        self.receiver.stop()

    def check_components(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}; see {self.logs}")

    def set_fault(self, fault: str | None) -> None:
        body: Any = {"fault": fault} if fault else None
        response = requests.put(f"http://127.0.0.1:{self.base_port}/admin/scenarios/{DATABASE}",
                                json=body, headers={"X-Admin-Token": self.admin_token}, timeout=10)
        response.raise_for_status()

    def latest_check(self) -> tuple[int, str] | None:
        """Return the id and status of the newest stored check of the database."""
        database = self.paths.var / "status.db"
        if not database.is_file():
            return None
        with sqlite3.connect(database, timeout=30) as connection:
            row = connection.execute("SELECT id, status FROM database_checks WHERE database_code = ? "
                                     "ORDER BY id DESC LIMIT 1", (DATABASE,)).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def wait_for_check(self, status: str, after_id: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_components()
            latest = self.latest_check()
            if latest and latest[0] > after_id and latest[1] == status:
                return latest[0]
            time.sleep(0.5)
        raise TimeoutError(f"no {status} check of {DATABASE} within {timeout:.0f} s; see {self.logs}")

    def latest_run_after(self) -> float:
        """Return when the newest run of the DAG was due (its ``run_after``), in epoch seconds."""
        with sqlite3.connect(self.paths.airflow_home / "airflow.db", timeout=30) as connection:
            (run_after,) = connection.execute("SELECT MAX(run_after) FROM dag_run WHERE dag_id = ?",
                                              (DAG_ID,)).fetchone()
        moment = _parse(run_after)
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()

    def wait_for_alert(self, after: int, timeout: float) -> float:
        """Return the monotonic time at which the alert number ``after + 1`` arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_components()
            if len(self.receiver.inbox.snapshot()) > after:
                return time.monotonic()
            time.sleep(0.1)
        raise TimeoutError(f"no alert within {timeout:.0f} s; see {self.logs}")


def trial(airflow: LocalAirflow, phase: str) -> dict[str, Any]:
    """Break the database, time the alert, heal it and time the recovery alert."""
    latest = airflow.latest_check()
    healthy_id = airflow.wait_for_check("OK", latest[0] if latest else 0, timeout=4 * INTERVAL_SECONDS)
    if phase == "random":
        time.sleep(random.uniform(0, INTERVAL_SECONDS))
    alerts_before = len(airflow.receiver.inbox.snapshot())
    broken_at = time.monotonic()
    airflow.set_fault("refused")
    alerted_at = airflow.wait_for_alert(alerts_before, timeout=5 * INTERVAL_SECONDS)
    alert_delay = time.time() - (time.monotonic() - alerted_at) - airflow.latest_run_after()
    broken_id = airflow.wait_for_check("BROKEN", healthy_id, timeout=2 * INTERVAL_SECONDS)

    alerts_before = len(airflow.receiver.inbox.snapshot())
    healed_at = time.monotonic()
    airflow.set_fault(None)
    recovered_at = airflow.wait_for_alert(alerts_before, timeout=5 * INTERVAL_SECONDS)
    airflow.wait_for_check("OK", broken_id, timeout=2 * INTERVAL_SECONDS)
    return {"phase": phase, "detection_s": round(alerted_at - broken_at, 1),
            "run_start_to_alert_s": round(alert_delay, 1), "recovery_s": round(recovered_at - healed_at, 1)}


def run_durations(airflow: LocalAirflow) -> dict[str, float]:
    """Return the median queue-to-end time of the measured DAG's runs and of its task instances."""
    import statistics

    with sqlite3.connect(airflow.paths.airflow_home / "airflow.db", timeout=30) as connection:
        runs = connection.execute("SELECT start_date, end_date FROM dag_run WHERE dag_id = ? AND end_date IS NOT NULL",
                                  (DAG_ID,)).fetchall()
        tasks = connection.execute("SELECT task_id, duration FROM task_instance WHERE dag_id = ? "
                                   "AND duration IS NOT NULL", (DAG_ID,)).fetchall()
    durations = [(_parse(end) - _parse(start)).total_seconds() for start, end in runs if start and end]
    by_task: dict[str, list[float]] = {}
    for task_id, duration in tasks:
        by_task.setdefault(task_id, []).append(float(duration))
    figures = {"dag_run_median_s": statistics.median(durations) if durations else None}
    figures.update({f"task_{task}_median_s": statistics.median(values) for task, values in sorted(by_task.items())})
    return figures


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(str(text).replace(" ", "T"))


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="seed of the random break moment")
    parser.add_argument("--trials", type=int, choices=(1, 2), default=1,
                        help="1: break right after a healthy poll; 2: also at a random moment (default: %(default)s)")
    args = parser.parse_args()
    random.seed(args.seed)
    phases = ["after_poll", "random"][:args.trials]

    result = Result("detection")
    with tempfile.TemporaryDirectory(prefix="bench-detection-") as work_dir:
        airflow = LocalAirflow(Path(work_dir))
        started = time.monotonic()
        try:
            airflow.start()
            first = airflow.wait_for_check("OK", 0, timeout=6 * INTERVAL_SECONDS)
            result.figure("start_to_first_healthy_check_s", round(time.monotonic() - started, 1))
            del first
            trials = [trial(airflow, phase) for phase in phases]
            result.figure("trials", trials)
            result.figure("alerts_received", len(airflow.receiver.inbox.snapshot()))
            result.figures.update(run_durations(airflow))
        finally:
            airflow.stop()
            if os.environ.get("BENCH_KEEP_LOGS"):
                import shutil

                shutil.copytree(airflow.logs, Path(os.environ["BENCH_KEEP_LOGS"]) / "detection", dirs_exist_ok=True)

    worst = max(item["detection_s"] for item in trials)
    # A break just after a healthy poll read its records is seen by the next poll, one
    # interval later, and alerts when that poll's record task finishes.
    bound = INTERVAL_SECONDS + max(item["run_start_to_alert_s"] for item in trials)
    result.figure("interval_s", INTERVAL_SECONDS)
    result.figure("measured_worst_detection_intervals", worst / INTERVAL_SECONDS)
    result.figure("worst_case_bound_s", round(bound, 1))
    result.target("measured detection latency / polling interval (1-minute schedule, real scheduler)",
                  ratio(worst, INTERVAL_SECONDS), 1.2)
    result.target("worst-case bound (interval + due time to alert) / polling interval",
                  ratio(bound, INTERVAL_SECONDS), 1.2,
                  note=f"a failing run alerts {bound - INTERVAL_SECONDS:.1f} s after it is due; "
                       f"median DAG run {result.figures.get('dag_run_median_s')} s")
    return finish(result, args.result)


if __name__ == "__main__":
    sys.exit(main())
