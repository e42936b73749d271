"""Point every ``national_db_<code>`` Airflow Connection at the stub server.

Run by the compose ``stub-connections`` job (``--host stubs``) and by the native distributed
test (``--host 127.0.0.1``). The stub server serves database number i of the catalog on
``base port + 1 + i``. The client id and secret come from ``STUB_CLIENT_ID`` and
``STUB_CLIENT_SECRET``; Airflow's metadata database from the usual ``AIRFLOW__*`` settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Any

from integration_monitor.catalog.loader import load_catalog
from integration_monitor.local.runtime import stub_ports
from integration_monitor.pipeline.connections import save_connections, stub_connection_specs


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Create the national_db_<code> connections of the stub server.")
    parser.add_argument("--host", required=True, help="host name or address of the stub server")
    parser.add_argument("--base-port", type=int, required=True, help="the stub server's base port")
    parser.add_argument("--read-timeout", type=float, default=None, help="read timeout of each request, in seconds")
    parser.add_argument("--max-attempts", type=int, default=None, help="attempts per request before giving up")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    client_secret = os.environ.get("STUB_CLIENT_SECRET")
    if not client_secret:
        print("error: STUB_CLIENT_SECRET is not set; use the secret the stub server was started with",
              file=sys.stderr)
        return 2
    client_id = os.environ.get("STUB_CLIENT_ID") or "integration-monitor"

    extra: dict[str, Any] = {}
    if args.read_timeout is not None:
        extra["read_timeout"] = args.read_timeout
    if args.max_attempts is not None:
        extra["max_attempts"] = args.max_attempts

    ports = stub_ports(load_catalog(), args.base_port)
    specs = [
        dataclasses.replace(spec, host=args.host)
        for spec in stub_connection_specs(ports, client_id, client_secret, **extra)
    ]
    save_connections(specs)
    print(f"created {len(specs)} connections national_db_<code> to {args.host}, "
          f"ports {min(ports.values())}-{max(ports.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
