"""The ORM models describe the tables that the Alembic migrations build, indexes included."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import integration_monitor.alerts.models  # noqa: F401 - registers the alert tables on Base.metadata
import integration_monitor.dashboard.models  # noqa: F401 - registers the hourly tables on Base.metadata
from integration_monitor.store.migrate import upgrade
from integration_monitor.store.models import Base


@pytest.fixture(params=["sqlite", "postgres"])
def migrated_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'status.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_store_url")
    upgrade(url)
    return url


def test_models_match_migrated_schema(migrated_url: str):
    engine = create_engine(migrated_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = [difference for difference in compare_metadata(context, Base.metadata)
                           if not _is_alembic_version(difference)]
    finally:
        engine.dispose()

    assert differences == []


def _is_alembic_version(difference: object) -> bool:
    return "alembic_version" in repr(difference)
