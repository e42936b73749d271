"""Measure the stub server's throughput: ``python -m integration_monitor.stubs.benchmark``.

Starts ``integration-monitor stubs serve`` (without warm-up) as a separate process on free ports with every
database healthy, then reads pages over one keep-alive connection. For each database and
page size it reports the first pass over all records (blocks generated and signed) and the
requests per second of later passes (blocks served from the cache).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass

import requests

BENCHMARK_SECRET = "benchmark-secret"


@dataclass(frozen=True)
class Measurement:
    database: str
    limit: int
    records_per_request: int
    cold_pass_seconds: float
    warm_requests: int
    warm_seconds: float

    @property
    def warm_requests_per_second(self) -> float:
        return self.warm_requests / self.warm_seconds


def start_server(total: int) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "integration_monitor.cli", "stubs", "serve",
        "--port", "0", "--total", str(total), "--scenario", "healthy", "--log-level", "warning",
    ]  # fmt: skip
    environment = {key: value for key, value in os.environ.items() if not key.startswith("STUB_")}
    environment["STUB_CLIENT_SECRET"] = BENCHMARK_SECRET
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first_line = process.stdout.readline().strip()
    if not first_line.startswith("main: "):
        process.kill()
        raise RuntimeError(f"stub server did not start: {first_line!r}")
    return process, first_line.removeprefix("main: ")


def measure(session: requests.Session, base_url: str, token: str, database: str, service: str, limit: int, seconds: float) -> Measurement:
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Request-ID": uuid.uuid4().hex,
        "X-Service-Code": service,
        "X-Agency-Code": "BENCH",
    }
    url = f"{base_url}/api/v1/{database}/records"

    def read_pass() -> int:
        requests_made = 0
        page: int | None = 1
        while page is not None:
            response = session.get(url, params={"page": page, "limit": limit}, headers=headers, timeout=120)
            response.raise_for_status()
            page = json.loads(response.content)["next_page"]
            requests_made += 1
        return requests_made

    started = time.perf_counter()
    read_pass()
    cold = time.perf_counter() - started

    warm_requests = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        warm_requests += read_pass()
    warm = time.perf_counter() - started
    return Measurement(database, limit, limit, cold, warm_requests, warm)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=5000, help="records per database (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each warm measurement (default: %(default)s)")
    parser.add_argument(
        "--database", action="append", default=None, metavar="CODE:SERVICE",
        help="database and a service that reads it (default: dan_cu:DVC-01 and kham_chua_benh:DVC-01)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = parser.parse_args(argv)
    targets = [text.split(":", 1) for text in (args.database or ["dan_cu:DVC-01", "kham_chua_benh:DVC-01"])]

    process, base_url = start_server(args.total)
    try:
        session = requests.Session()
        session.trust_env = False
        token = session.post(
            f"{base_url}/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": "monitor", "client_secret": BENCHMARK_SECRET},
            timeout=30,
        ).json()["access_token"]
        results = [
            measure(session, base_url, token, database, service, limit, args.seconds)
            for database, service in targets
            for limit in (100, 1000)
        ]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    if args.json:
        print(json.dumps([asdict(result) | {"warm_requests_per_second": result.warm_requests_per_second} for result in results], indent=2))
        return 0
    print(f"{'database':<16} {'limit':>5} {'first pass s':>12} {'warm req/s':>10} {'warm records/s':>14}")
    for result in results:
        print(
            f"{result.database:<16} {result.limit:>5} {result.cold_pass_seconds:>12.2f} "
            f"{result.warm_requests_per_second:>10.1f} {result.warm_requests_per_second * result.limit:>14.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
