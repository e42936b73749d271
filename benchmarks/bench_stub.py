"""Stub server: the requests per second it serves against the load that polling generates.

The stub server runs as ``integration-monitor stubs serve`` with the 4× catalog (64
databases, see ``scaled_catalog.py``), every database healthy. The script then:

1. polls every database once with the monitor's own fetch step (``run_fetch``: token, pages,
   CA certificate and the access probes of the other consuming services), recording every
   HTTP request it sends. Each database's poll gets a fresh token, as each fetch task runs in
   a new process. This pass also has the server build and sign the records, so the replay
   below reads them from its cache.
2. replays the recorded requests as fast as the server answers, from several client threads,
   for a fixed time, and counts the answers.

With every database polled once per minute, the load is the requests of one pass per 60 s.
The target is that the server's rate is well above that load; the ratio printed is load
over capacity. Because every DAG of a schedule starts at the same minute, the time the
server needs for one whole pass is printed against the interval as well.
"""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import requests

from common import PROJECT_ROOT, Result, argument_parser, finish, project_python, ratio

INTERVAL_SECONDS = 60.0
CLIENT_SECRET = "bench-stub-secret"
CLIENT_ID = "monitor"


def start_stub(root: Path, env: dict[str, str], base_port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [project_python(), "-m", "integration_monitor.cli", "stubs", "serve", "--host", "127.0.0.1",
               "--port", str(base_port), "--scenario", "healthy", "--log-level", "warning",
               "--catalog", str(root / "include" / "appendix_data")]
    with log.open("ab") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the stub server exited; see {log}")
        try:
            if requests.get(f"http://127.0.0.1:{base_port}/healthz", timeout=2).ok:
                return process
        except requests.RequestException:
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"the stub server did not respond on port {base_port} within 120 s; see {log}")


class Recorder:
    """Keeps a copy of every request that the fetch layer's sessions send."""

    def __init__(self) -> None:
        self.requests: list[requests.PreparedRequest] = []
        self._original = requests.adapters.HTTPAdapter.send

    def __enter__(self) -> Recorder:
        recorder = self

        def send(adapter: Any, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
            recorder.requests.append(request.copy())
            return recorder._original(adapter, request, *args, **kwargs)

        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        requests.adapters.HTTPAdapter.send = self._original  # type: ignore[method-assign]


def poll_every_database(catalog: Any, base_port: int) -> tuple[list[requests.PreparedRequest], float, list[str]]:
    """Run the fetch step once per database; return the requests sent, the seconds and any failures."""
    from integration_monitor.fetch.access_token import token_cache
    from integration_monitor.fetch.config import EndpointConfig
    from integration_monitor.local.runtime import stub_ports
    from integration_monitor.pipeline.connections import stub_connection_specs
    from integration_monitor.pipeline.fetch_step import FetchStepError, run_fetch

    specs = stub_connection_specs(stub_ports(catalog, base_port), CLIENT_ID, CLIENT_SECRET)
    failures = []
    started = time.perf_counter()
    with Recorder() as recorder:
        for spec in specs:
            connection = SimpleNamespace(conn_id=spec.conn_id, host=spec.host, port=spec.port, schema=spec.schema,
                                         login=spec.login, password=spec.password, extra_dejson=spec.extra)
            config = EndpointConfig.from_connection(connection)
            token_cache.discard(config)
            try:
                run_fetch(catalog, spec.conn_id.removeprefix("national_db_"), config, dt.datetime.now(dt.UTC))
            except FetchStepError as error:
                failures.append(f"{spec.conn_id}: {error}")
    return recorder.requests, time.perf_counter() - started, failures


def replay(recorded: list[requests.PreparedRequest], threads: int, seconds: float) -> dict[str, float]:
    """Send the recorded requests again from ``threads`` clients for ``seconds``; return counts and rates."""
    counts = [0] * threads
    errors = [0] * threads
    stop = threading.Event()

    def client(index: int) -> None:
        session = requests.Session()
        session.trust_env = False
        position = index * len(recorded) // threads
        while not stop.is_set():
            request = recorded[position % len(recorded)]
            position += 1
            try:
                response = session.send(request, timeout=60)
                response.content  # noqa: B018 - read the whole body, as the fetch layer does
                if response.status_code >= 400:
                    errors[index] += 1
            except requests.RequestException:
                errors[index] += 1
            counts[index] += 1

    workers = [threading.Thread(target=client, args=(index,), daemon=True) for index in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join(timeout=120)
    elapsed = time.perf_counter() - started
    return {"requests": sum(counts), "errors": sum(errors), "seconds": elapsed,
            "requests_per_second": sum(counts) / elapsed}


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--factor", type=int, default=4, help="copies of each database (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=4, help="client threads in the replay (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each replay (default: %(default)s)")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else args.seconds

    import logging
    import os

    logging.basicConfig(level=logging.WARNING)
    from bench_sweep import free_port_block
    from scaled_catalog import scaled_environment, write_scaled_project

    result = Result("stub")
    with tempfile.TemporaryDirectory(prefix="bench-stub-") as work_dir:
        work = Path(work_dir)
        root = write_scaled_project(work / "project", args.factor)
        os.environ.update(scaled_environment(root))
        from integration_monitor.catalog.loader import load_catalog

        catalog = load_catalog(root / "include" / "appendix_data")
        base_port = free_port_block(len(catalog.databases) + 1)
        env = {**os.environ, "STUB_CLIENT_ID": CLIENT_ID, "STUB_CLIENT_SECRET": CLIENT_SECRET}
        server = start_stub(root, env, base_port, work / "stubs.log")
        try:
            recorded, first_pass, failures = poll_every_database(catalog, base_port)
            _again, warm_pass, _failures = poll_every_database(catalog, base_port)
            runs = [replay(recorded, args.threads, seconds) for _ in range(2)]
        finally:
            server.terminate()
            server.wait(timeout=30)

    capacity = statistics.median(run["requests_per_second"] for run in runs)
    per_pass = len(recorded)
    load = per_pass / INTERVAL_SECONDS
    result.figure("databases", len(catalog.databases))
    result.figure("requests_per_polling_pass", per_pass)
    result.figure("requests_per_database_poll", per_pass / len(catalog.databases))
    result.figure("polling_load_req_per_s", load)
    result.figure("first_pass_with_fetch_step_s", first_pass)
    result.figure("second_pass_with_fetch_step_s", warm_pass)
    result.figure("replay_threads", args.threads)
    result.figure("replays", runs)
    result.figure("served_req_per_s", capacity)
    result.figure("server_seconds_for_one_pass", per_pass / capacity if capacity else None)
    if failures:
        result.notes.append(f"fetch failures: {failures[:3]}")
    if any(run["errors"] for run in runs):
        result.notes.append("the replay got error answers; see replays")
    result.target(f"polling load of the {args.factor}× catalog at 1 min / requests served per second",
                  ratio(load, capacity), 0.5,
                  note="the server needs "
                       f"{per_pass / capacity:.1f} s of the 60 s interval for one pass" if capacity else "")
    return finish(result, args.result)


if __name__ == "__main__":
    sys.exit(main())
