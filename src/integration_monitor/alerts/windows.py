"""Maintenance windows and silences: stored periods that suppress a database's alerts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_monitor.alerts.models import MaintenanceWindow, WindowKind

MAX_REASON_LENGTH = 500
MAX_WINDOW = dt.timedelta(days=90)


class WindowError(ValueError):
    """A maintenance window that cannot be added or ended.

    ``message_id`` is the English message with ``{placeholders}`` and the key of its
    translation in the ``alerts`` domain, so the CLI can print it in the operator's language.
    """

    def __init__(self, message_id: str, **values: object) -> None:
        super().__init__(message_id.format(**values))
        self.message_id = message_id
        self.values = values


def add_window(
    session: Session,
    *,
    kind: WindowKind,
    database_code: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str,
    created_by: str,
    now: dt.datetime,
) -> MaintenanceWindow:
    """Validate and store a window. Raise ``WindowError`` on an empty reason or a bad period."""
    reason = reason.strip()
    if not reason:
        raise WindowError("The reason is empty: say why alerts are suppressed.")
    if len(reason) > MAX_REASON_LENGTH:
        raise WindowError("The reason has {length} characters, at most {limit} are allowed.",
                          length=len(reason), limit=MAX_REASON_LENGTH)
    if ends_at <= starts_at:
        raise WindowError("The end {end} is not after the start {start}.", end=ends_at, start=starts_at)
    if ends_at <= now:
        raise WindowError("The end {end} is already past.", end=ends_at)
    if ends_at - starts_at > MAX_WINDOW:
        raise WindowError("The window lasts longer than {days} days: add a shorter one and renew it later.",
                          days=MAX_WINDOW.days)

    window = MaintenanceWindow(
        kind=kind.value,
        database_code=database_code,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=created_by,
        created_at=now,
    )
    session.add(window)
    session.flush()
    return window


def end_window(session: Session, window_id: int, *, kind: WindowKind, ended_by: str, now: dt.datetime) -> MaintenanceWindow:
    """End a current or future window now. Raise ``WindowError`` if it is unknown or already over."""
    window = session.get(MaintenanceWindow, window_id)
    if window is None or window.kind != kind.value:
        raise WindowError("No window with id {id} of this kind; see the list command.", id=window_id)
    if window.effective_end <= now:
        raise WindowError("Window {id} is already over since {end}.", id=window_id, end=window.effective_end)
    window.ended_at = max(now, window.starts_at)
    window.ended_by = ended_by
    session.flush()
    return window


def list_windows(session: Session, *, kind: WindowKind | None, now: dt.datetime, include_past: bool) -> list[MaintenanceWindow]:
    """Return windows by start time. Without ``include_past``, only current and future ones."""
    query = select(MaintenanceWindow).order_by(MaintenanceWindow.starts_at, MaintenanceWindow.id)
    if kind is not None:
        query = query.where(MaintenanceWindow.kind == kind.value)
    windows = list(session.scalars(query))
    if include_past:
        return windows
    # A window ended before it began has no time left in which it could suppress anything.
    return [window for window in windows if window.effective_end > max(now, window.starts_at)]


def active_windows(session: Session, database_codes: Iterable[str], at: dt.datetime) -> dict[str, MaintenanceWindow]:
    """Return, for each listed database with a window active at ``at``, the window that ends last."""
    codes = sorted(set(database_codes))
    if not codes:
        return {}
    candidates = session.scalars(
        select(MaintenanceWindow).where(
            MaintenanceWindow.database_code.in_(codes),
            MaintenanceWindow.starts_at <= at,
            MaintenanceWindow.ends_at > at,
        )
    )
    active: dict[str, MaintenanceWindow] = {}
    for window in candidates:
        if not window.is_active(at):
            continue
        current = active.get(window.database_code)
        if current is None or window.effective_end > current.effective_end:
            active[window.database_code] = window
    return active
