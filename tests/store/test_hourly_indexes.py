"""The hour indexes of the hourly tables carry the subject after migration 0004, and go back without it."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect

from integration_monitor.store.engine import get_engine
from integration_monitor.store.migrate import alembic_config, upgrade

EXPECTED = {
    "dashboard_database_hourly": ("ix_dashboard_database_hourly_hour", ["hour_start", "database_code"]),
    "dashboard_service_hourly": ("ix_dashboard_service_hourly_hour", ["hour_start", "service_number"]),
}


def hour_index_columns(url: str) -> dict[str, list[str]]:
    engine = get_engine(url)
    inspector = inspect(engine)
    columns = {}
    for table, (name, _columns) in EXPECTED.items():
        by_name = {index["name"]: index["column_names"] for index in inspector.get_indexes(table)}
        columns[table] = by_name.get(name, [])
    engine.dispose()
    return columns


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request) -> str:  # type: ignore[no-untyped-def]
    return request.getfixturevalue("sqlite_store_url" if request.param == "sqlite" else "postgres_store_url")


def test_upgrade_adds_subject(store: str):
    upgrade(store)

    assert hour_index_columns(store) == {table: columns for table, (_name, columns) in EXPECTED.items()}


def test_downgrade_restores_hour_only(store: str):
    upgrade(store)
    command.downgrade(alembic_config(store), "0003")

    assert hour_index_columns(store) == {table: ["hour_start"] for table in EXPECTED}

    upgrade(store)
    assert hour_index_columns(store) == {table: columns for table, (_name, columns) in EXPECTED.items()}
