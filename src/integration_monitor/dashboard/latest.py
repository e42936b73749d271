"""The latest check of each database and verdict of each service, found by index seeks.

Each database and service costs one seek on its (code, time) index, newest row first (see
``store.repository``). The result is the ``StatusSnapshot`` that ``report.load_snapshot``
returns, plus the checks behind it, and a test compares the two on the same store.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from integration_monitor.catalog.models import Catalog
from integration_monitor.report import StatusSnapshot, read_snapshot
from integration_monitor.store.models import DatabaseCheck


def load_latest_snapshot(catalog: Catalog, session: Session) -> tuple[StatusSnapshot, dict[str, DatabaseCheck]]:
    """Return the snapshot ``report.load_snapshot`` would return, and the checks behind it."""
    return read_snapshot(catalog, session)
