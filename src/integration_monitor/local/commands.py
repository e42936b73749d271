"""``integration-monitor demo`` and ``integration-monitor up``: the monitor on one machine."""

from __future__ import annotations

import argparse
import subprocess
import sys

from integration_monitor.i18n import LANGUAGES


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo", help="start the stub server, run every monitoring DAG once through Airflow on SQLite, print the matrix"
    )
    demo.add_argument("--scenario", default="appendix-2025", help="stub scenario name or file (default: appendix-2025)")
    demo.add_argument("--port", type=int, default=0, help="stub server base port (default: a free port)")
    demo.add_argument("--lang", choices=LANGUAGES, default=None, help="language of the report (default: vi)")
    demo.set_defaults(handler=run_demo)

    up = subparsers.add_parser("up", help="start the stub server and a full local Airflow on 127.0.0.1")
    up.add_argument("--scenario", default="appendix-2025", help="stub scenario (default: appendix-2025)")
    up.add_argument("--port", type=int, default=8700, help="stub server base port (default: 8700)")
    up.add_argument("--api-port", type=int, default=8080, help="Airflow API server port (default: 8080)")
    up.set_defaults(handler=run_up)


def run_demo(args: argparse.Namespace) -> int:
    from integration_monitor.catalog.loader import load_catalog
    from integration_monitor.local.runtime import airflow_environment, free_port, local_paths, start_stub_server, stop
    from integration_monitor.report import format_matrix, load_snapshot

    paths = local_paths()
    catalog = load_catalog()
    base_port = args.port or _free_port_block(len(catalog.databases) + 1, free_port)
    env = airflow_environment(paths, {"INTEGRATION_MONITOR_RETRIES": "0"})

    print(f"Starting the stub server (scenario {args.scenario}) on 127.0.0.1:{base_port} …", file=sys.stderr)
    stub = start_stub_server(base_port, args.scenario, env, paths.var / "logs" / "stubs.log")
    try:
        print("Running every monitoring DAG once through Airflow (SQLite) …", file=sys.stderr)
        completed = subprocess.run(
            [sys.executable, "-m", "integration_monitor.local.sweep", "--base-port", str(base_port)],
            env=env, stdout=subprocess.PIPE, stderr=(paths.var / "logs" / "sweep.log").open("wb"), check=False,
        )
    finally:
        stop(stub)
    if completed.returncode != 0:
        print(f"error: the sweep failed (exit {completed.returncode}); see {paths.var / 'logs' / 'sweep.log'}",
              file=sys.stderr)
        return completed.returncode

    print(completed.stdout.decode("utf-8"), file=sys.stderr)
    print(format_matrix(catalog, load_snapshot(catalog, paths.store_url), args.lang))
    return 0


def _free_port_block(size: int, pick) -> int:  # type: ignore[no-untyped-def]
    """Return a base port whose next ``size`` ports are all free."""
    import socket

    for _attempt in range(50):
        base = pick()
        if base + size >= 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + size):
                probe = socket.socket()
                probe.bind(("127.0.0.1", port))
                sockets.append(probe)
            return base
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
    raise RuntimeError(f"no block of {size} free ports found on 127.0.0.1")


def run_up(args: argparse.Namespace) -> int:
    from integration_monitor.local.up import run_local_airflow

    return run_local_airflow(args.scenario, args.port, args.api_port)
