"""Start the stub server and every Airflow component on 127.0.0.1 until interrupted."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from integration_monitor.catalog.loader import load_catalog
from integration_monitor.local.runtime import airflow_environment, local_paths, start_stub_server, stop

# The scheduler and triggerer would otherwise serve logs on all interfaces (ports 8793/8794).
AIRFLOW_COMPONENTS = (
    ("api-server", ["api-server"]),
    ("scheduler", ["scheduler", "--skip-serve-logs"]),
    ("dag-processor", ["dag-processor"]),
    ("triggerer", ["triggerer", "--skip-serve-logs"]),
)


def airflow_command() -> list[str]:
    return [sys.executable, "-m", "airflow"]


def run_local_airflow(scenario: str, base_port: int, api_port: int) -> int:
    paths = local_paths()
    load_catalog()
    env = airflow_environment(paths, {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
    })
    logs = paths.var / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    stub = start_stub_server(base_port, scenario, env, logs / "stubs.log")
    processes: list[subprocess.Popen[bytes]] = [stub]
    try:
        subprocess.run([sys.executable, "-m", "integration_monitor.local.sweep", "--base-port", str(base_port),
                        "--prepare-only"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=(logs / "prepare.log").open("wb"))
        for name, arguments in AIRFLOW_COMPONENTS:
            with (logs / f"{name}.log").open("ab") as log_file:
                processes.append(subprocess.Popen([*airflow_command(), *arguments], env=env,
                                                  stdout=log_file, stderr=subprocess.STDOUT))
        print(f"Airflow UI: http://127.0.0.1:{api_port}/  (user admin; password in "
              f"{paths.airflow_home / 'simple_auth_manager_passwords.json.generated'})")
        print(f"Stub server: http://127.0.0.1:{base_port}/  Logs: {logs}  Press Ctrl-C to stop.")
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(process.poll() is None for process in processes):
            time.sleep(1)
        failed = [process.args for process in processes if process.poll() is not None]
        print(f"error: a component stopped: {failed}; see {logs}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in reversed(processes):
            stop(process)
