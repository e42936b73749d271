"""Run every monitoring DAG once through Airflow (``dag.test``), inside a process whose
environment already points Airflow at the local home (see ``runtime.airflow_environment``).

Usage: ``python -m integration_monitor.local.sweep --base-port 8700 [--only CODE ...]``
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator

log = logging.getLogger(__name__)

# The variable behind airflow.sdk.get_parsing_context(); Airflow sets it when a worker parses
# a DAG file to run one task.
PARSING_CONTEXT_DAG_ID = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"


def prepare_airflow(base_port: int) -> None:
    """Create Airflow's tables and the stub server's connections."""
    from airflow.utils.db import initdb

    from integration_monitor.catalog.loader import load_catalog_cached
    from integration_monitor.local.runtime import stub_ports
    from integration_monitor.pipeline.connections import save_connections, stub_connection_specs
    from integration_monitor.store.migrate import upgrade

    upgrade()
    initdb()
    catalog = load_catalog_cached()
    extra = {"read_timeout": float(os.environ.get("INTEGRATION_MONITOR_READ_TIMEOUT", "10")),
             "max_attempts": int(os.environ.get("INTEGRATION_MONITOR_MAX_ATTEMPTS", "2"))}
    specs = stub_connection_specs(
        stub_ports(catalog, base_port), os.environ["STUB_CLIENT_ID"], os.environ["STUB_CLIENT_SECRET"], **extra
    )
    save_connections(specs)


def run_dags(dag_ids: list[str] | None = None) -> dict[str, str]:
    """Run the database DAGs, then the rollup, once each; return each run's final state."""
    from airflow.dag_processing.dagbag import DagBag

    from integration_monitor.dags.factory import COMPACTION_DAG_ID, ROLLUP_DAG_ID

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    database_dags = sorted(set(bag.dag_ids) - {ROLLUP_DAG_ID, COMPACTION_DAG_ID})
    selected = [dag_id for dag_id in database_dags if dag_ids is None or dag_id in dag_ids]

    states: dict[str, str] = {}
    for dag_id in [*selected, ROLLUP_DAG_ID]:
        started = time.monotonic()
        with _parsing_context(dag_id):
            run = bag.get_dag(dag_id).test()
        states[dag_id] = str(getattr(run, "state", "unknown"))
        log.info("Ran %s in %.1f s: %s", dag_id, time.monotonic() - started, states[dag_id])
    return states


@contextlib.contextmanager
def _parsing_context(dag_id: str) -> Iterator[None]:
    """Name ``dag_id`` in Airflow's parsing context while it runs.

    ``dag.test()`` of Airflow 3.3 parses the whole DAG folder again and writes every DAG to
    the metadata database before each run, so a sweep of N DAGs cost N² DAG builds. With
    the context set, the DAG factory builds only the DAG under test.
    """
    previous = os.environ.get(PARSING_CONTEXT_DAG_ID)
    os.environ[PARSING_CONTEXT_DAG_ID] = dag_id
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PARSING_CONTEXT_DAG_ID, None)
        else:
            os.environ[PARSING_CONTEXT_DAG_ID] = previous


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every monitoring DAG once through Airflow.")
    parser.add_argument("--base-port", type=int, required=True, help="the stub server's base port")
    parser.add_argument("--only", nargs="*", default=None, help="DAG ids to run (default: all)")
    parser.add_argument("--skip-prepare", action="store_true", help="do not migrate or create connections")
    parser.add_argument("--prepare-only", action="store_true", help="migrate and create connections, run nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if not args.skip_prepare:
        prepare_airflow(args.base_port)
    if args.prepare_only:
        return 0
    states = run_dags(args.only)
    for dag_id, state in states.items():
        print(f"{dag_id}\t{state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
