"""Shared fixtures: paths, a fresh status store per test, and the catalog."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("INTEGRATION_MONITOR_HOME", str(REPO))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

# Airflow reads its home when first imported: give the test session a home of its own so
# nothing lands in ~/airflow and tests never share Airflow's metadata database.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="im-test-airflow-"))
os.environ.setdefault("AIRFLOW_HOME", str(_AIRFLOW_HOME))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}")
# The DAG file's plan cache (integration_monitor.dags.plan) stays inside the session's folder.
os.environ.setdefault("INTEGRATION_MONITOR_CACHE_DIR", str(_AIRFLOW_HOME / "plan-cache"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def catalog():  # type: ignore[no-untyped-def]
    from integration_monitor.catalog.loader import load_catalog

    return load_catalog(REPO / "include" / "appendix_data")


@pytest.fixture()
def sqlite_store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'status.db'}"


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def postgres_database() -> Iterator[str]:
    """Create a PostgreSQL database of its own, yield its URL, and drop it afterwards."""
    from sqlalchemy import create_engine, text

    admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"im_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001
        admin.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable: {error}")
    url = postgres_admin_url().rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        from integration_monitor.store.engine import get_engine

        get_engine.cache_clear()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture()
def postgres_store_url() -> Iterator[str]:
    yield from postgres_database()


@pytest.fixture(scope="module")
def postgres_store_module() -> Iterator[str]:
    yield from postgres_database()
