"""Sweep time: every database against one, and a catalog 4× as large against the real one.

A sweep is what ``integration-monitor demo`` runs: ``python -m integration_monitor.local.sweep``
in a child process, which parses the DAG folder and runs each database's DAG and then the
service rollup once through ``dag.test()``, on SQLite, against the stub server. One child
process runs every DAG of a sweep one after the other, so "same workers" holds by
construction.

For each catalog the script prepares an Airflow home and a status store in a temporary
folder (migrations, Airflow's tables, connections: not timed), starts the stub server with
every database healthy, and reads each database's first batch once so that the server has
built and signed those records before any timed run. Then it times, alternating:

- one database's run: ``--only monitor_dan_cu`` (that DAG and the rollup);
- the full sweep: every database DAG and the rollup.

The 4× catalog is written by ``scaled_catalog.py`` and timed as a full sweep.

What dominates is read from the full sweep itself: the task durations that Airflow stored
(fetch, validate, record, outcome) against the child process's whole wall time, and the
time before the first DAG starts (interpreter, imports, DAG parse).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import requests

from common import PROJECT_ROOT, Result, argument_parser, finish, project_python, ratio

SINGLE_DAG = "monitor_dan_cu"


@dataclass
class Sweep:
    seconds: float
    states: dict[str, str]
    dag_seconds: dict[str, float]
    task_seconds: dict[str, float]


def free_port_block(size: int) -> int:
    """Return a base port whose next ``size`` ports are free on 127.0.0.1."""
    for _attempt in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + size >= 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + size + 1):
                item = socket.socket()
                sockets.append(item)
                item.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for item in sockets:
                item.close()
    raise RuntimeError(f"no block of {size} free ports on 127.0.0.1")


class Installation:
    """An Airflow home, a status store and a stub server for one catalog, in a temporary folder."""

    def __init__(self, root: Path, work: Path, extra_env: dict[str, str]) -> None:
        from integration_monitor.catalog.loader import load_catalog
        from integration_monitor.local.runtime import LocalPaths, airflow_environment

        self.paths = LocalPaths(root, var_dir=work / "var")
        self.catalog = load_catalog(extra_env.get("INTEGRATION_MONITOR_CATALOG") or root / "include" / "appendix_data")
        self.base_port = free_port_block(len(self.catalog.databases) + 1)
        self.env = airflow_environment(self.paths, {
            **extra_env,
            "INTEGRATION_MONITOR_RETRIES": "0",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "PYTHONWARNINGS": "ignore",
        })
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.stub: subprocess.Popen[bytes] | None = None

    @contextmanager
    def running(self) -> Iterator[Installation]:
        from integration_monitor.local.runtime import stop

        command = [project_python(), "-m", "integration_monitor.cli", "stubs", "serve", "--host", "127.0.0.1",
                   "--port", str(self.base_port), "--scenario", "healthy", "--log-level", "warning"]
        with (self.logs / "stubs.log").open("ab") as log_file:
            self.stub = subprocess.Popen(command, env=self.env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            self._wait_for_stub()
            self._sweep_command(["--prepare-only"], "prepare")
            yield self
        finally:
            stop(self.stub)

    def _wait_for_stub(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stub is not None and self.stub.poll() is not None:
                raise RuntimeError(f"the stub server exited; see {self.logs / 'stubs.log'}")
            try:
                if requests.get(f"http://127.0.0.1:{self.base_port}/healthz", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the stub server did not respond on port {self.base_port} within {timeout:.0f} s")

    def prime_stub(self, batch_size: int = 500, page_size: int = 100) -> float:
        """Read each database's first batch once, so the server builds and signs it before timing."""
        from integration_monitor.local.runtime import stub_ports
        from integration_monitor.service_codes import service_code

        started = time.perf_counter()
        session = requests.Session()
        session.trust_env = False
        base = f"http://127.0.0.1:{self.base_port}"
        token = session.post(f"{base}/oauth2/token", timeout=60, data={
            "grant_type": "client_credentials", "client_id": self.env["STUB_CLIENT_ID"],
            "client_secret": self.env["STUB_CLIENT_SECRET"]}).json()["access_token"]
        for code, port in stub_ports(self.catalog, self.base_port).items():
            service = self.catalog.services_reading(code)[0]
            headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "bench-prime",
                       "X-Service-Code": service_code(service.number), "X-Agency-Code": "BENCH"}
            for page in range(1, batch_size // page_size + 1):
                response = session.get(f"http://127.0.0.1:{port}/api/v1/{code}/records",
                                       params={"page": page, "limit": page_size}, headers=headers, timeout=300)
                response.raise_for_status()
        return time.perf_counter() - started

    def _sweep_command(self, arguments: list[str], label: str) -> tuple[float, str, str]:
        command = [project_python(), "-m", "integration_monitor.local.sweep", "--base-port", str(self.base_port),
                   *arguments]
        started = time.perf_counter()
        completed = subprocess.run(command, env=self.env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        (self.logs / f"{label}.log").write_text(completed.stderr, encoding="utf-8")
        if completed.returncode != 0:
            raise RuntimeError(f"sweep {label} failed with exit {completed.returncode}; see {self.logs / label}.log")
        return seconds, completed.stdout, completed.stderr

    def sweep(self, only: list[str] | None, label: str) -> Sweep:
        arguments = ["--skip-prepare"] + (["--only", *only] if only else [])
        since = time.time()
        seconds, stdout, _stderr = self._sweep_command(arguments, label)
        states = dict(line.split("\t", 1) for line in stdout.splitlines() if "\t" in line)
        dag_seconds, task_seconds = self._stored_durations(since)
        return Sweep(seconds, states, dag_seconds, task_seconds)

    def _stored_durations(self, since: float) -> tuple[dict[str, float], dict[str, float]]:
        """Return the DAG run durations and the task durations summed per task id, of runs started after ``since``."""
        database = self.paths.airflow_home / "airflow.db"
        with sqlite3.connect(database) as connection:
            runs = connection.execute("SELECT dag_id, start_date, end_date FROM dag_run").fetchall()
            tasks = connection.execute(
                "SELECT task_id, duration, start_date FROM task_instance WHERE duration IS NOT NULL").fetchall()
        dag_seconds = {dag_id: _epoch(end) - _epoch(start) for dag_id, start, end in runs
                       if start and end and _epoch(start) >= since - 1}
        task_seconds: dict[str, float] = defaultdict(float)
        for task_id, duration, start_date in tasks:
            if start_date and _epoch(start_date) >= since - 1:
                task_seconds[task_id] += float(duration)
        return dag_seconds, dict(task_seconds)


def _epoch(text: str) -> float:
    import datetime as dt

    moment = dt.datetime.fromisoformat(str(text).replace(" ", "T"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def bad_states(sweep: Sweep) -> list[str]:
    return [f"{dag_id}={state}" for dag_id, state in sweep.states.items() if "success" not in state]


def describe(sweep: Sweep) -> dict[str, Any]:
    """Split a sweep's wall time into start-up, task work and Airflow's dag.test overhead."""
    in_dags = sum(sweep.dag_seconds.values())
    in_tasks = sum(sweep.task_seconds.values())
    return {
        "wall_s": round(sweep.seconds, 2),
        "dags": len(sweep.dag_seconds),
        "before_first_dag_s": round(sweep.seconds - in_dags, 2),
        "in_dag_test_s": round(in_dags, 2),
        "in_tasks_s": {task: round(value, 2) for task, value in sorted(sweep.task_seconds.items())},
        "dag_test_overhead_s": round(in_dags - in_tasks, 2),
        "slowest_dags_s": dict(sorted(sweep.dag_seconds.items(), key=lambda item: -item[1])[:3]),
    }


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each 1× side (default: %(default)s)")
    parser.add_argument("--factor", type=int, default=4, help="copies of each database in the scaled catalog")
    parser.add_argument("--skip-scaled", action="store_true", help="do not time the scaled catalog")
    args = parser.parse_args()
    sys.path.insert(0, str(PROJECT_ROOT / "src"))

    from scaled_catalog import scaled_environment, write_scaled_project

    result = Result("sweep")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as work_dir:
        work = Path(work_dir)
        single_times, full_times, full = [], [], None
        with Installation(PROJECT_ROOT, work / "1x", {}).running() as installation:
            result.figure("databases_1x", len(installation.catalog.databases))
            result.figure("stub_prime_1x_s", installation.prime_stub())
            for repetition in range(max(1, 1 if args.quick else args.repeat)):
                order = ("single", "full") if repetition % 2 == 0 else ("full", "single")
                for side in order:
                    if side == "single":
                        sweep = installation.sweep([SINGLE_DAG], f"single-{repetition}")
                        single_times.append(sweep.seconds)
                        result.figure(f"single_run_{repetition}", describe(sweep))
                    else:
                        full = installation.sweep(None, f"full-{repetition}")
                        full_times.append(full.seconds)
                        result.figure(f"full_sweep_{repetition}", describe(full))
                    if bad_states(sweep if side == "single" else full):
                        result.notes.append(f"{side} run states: {bad_states(sweep if side == 'single' else full)}")

        single, full_median = statistics.median(single_times), statistics.median(full_times)
        result.figure("single_run_s", single_times)
        result.figure("full_sweep_1x_s", full_times)
        result.target(f"full sweep ({len(installation.catalog.databases)} databases) / one database's run "
                      f"({SINGLE_DAG})", ratio(full_median, single), 3, note=_dominant(full))

        if not args.skip_scaled:
            scaled_root = write_scaled_project(work / "scaled-project", args.factor)
            with Installation(scaled_root, work / "scaled", scaled_environment(scaled_root)).running() as scaled:
                result.figure(f"databases_{args.factor}x", len(scaled.catalog.databases))
                result.figure(f"stub_prime_{args.factor}x_s", scaled.prime_stub())
                scaled_sweep = scaled.sweep(None, "scaled")
                result.figure(f"full_sweep_{args.factor}x", describe(scaled_sweep))
                if bad_states(scaled_sweep):
                    result.notes.append(f"scaled sweep states: {bad_states(scaled_sweep)}")
            result.target(f"{args.factor}× catalog sweep / 1× sweep", ratio(scaled_sweep.seconds, full_median), 4.5,
                          note=_dominant(scaled_sweep))
    return finish(result, args.result)


def _dominant(sweep: Sweep | None) -> str:
    if sweep is None:
        return ""
    parts = describe(sweep)
    tasks = parts["in_tasks_s"]
    shares = {f"task {name}": value for name, value in tasks.items()}
    shares["dag.test overhead"] = parts["dag_test_overhead_s"]
    shares["start-up and parse"] = parts["before_first_dag_s"]
    total = sweep.seconds or 1.0
    ranked = sorted(shares.items(), key=lambda item: -item[1])
    return "time goes to " + ", ".join(f"{name} {value / total:.0%}" for name, value in ranked[:4])


if __name__ == "__main__":
    sys.exit(main())
