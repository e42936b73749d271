"""Connection to the status store: SQLite by default, PostgreSQL by configuration."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

STORE_URL_ENV = "INTEGRATION_MONITOR_STORE_URL"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def default_store_url() -> str:
    from integration_monitor.catalog.loader import project_root

    path = project_root() / "var" / "status.db"
    return f"sqlite:///{path}"


def store_url() -> str:
    return os.environ.get(STORE_URL_ENV) or default_store_url()


def redact(url: str) -> str:
    """Return the URL with any password replaced, for logs and messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


_ENGINES: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """Return the engine of ``url``, or of the configured store; one engine per URL and process."""
    resolved = url or store_url()
    engine = _ENGINES.get(resolved)
    if engine is None:
        engine = _ENGINES[resolved] = _create_engine(resolved)
    return engine


def _create_engine(resolved: str) -> Engine:
    if resolved.startswith("sqlite"):
        database = resolved.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(resolved, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(resolved, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _configure_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets the dashboard read while a task writes; the busy timeout makes parallel
    # writers wait for the lock instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


def dispose_engines() -> None:
    """Close the pools of every cached engine and forget them, e.g. after a test drops its database."""
    while _ENGINES:
        _, engine = _ENGINES.popitem()
        engine.dispose()


# Tests written against the earlier lru_cache-based get_engine() call get_engine.cache_clear().
get_engine.cache_clear = dispose_engines  # type: ignore[attr-defined]
