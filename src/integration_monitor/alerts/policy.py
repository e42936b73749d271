"""The alert policy: rules that pick the alert, if any, that an incident's newest result calls for.

The rules, for one incident:
- an opening alert once the incident has lasted ``failure_threshold`` consecutive non-OK
  results, and only one delivered opening alert per incident;
- a reminder when the last opening alert or reminder is at least ``reminder_interval`` old;
- a recovery notice when the incident closes, if an opening alert was recorded for it.

An alert decided while a maintenance window is active is recorded as suppressed. A suppressed
opening alert does not count as delivered, so the first result after the window ends, with
the incident still open, sends the opening alert. Within one window a suppressed opening
alert is recorded once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from integration_monitor.alerts.models import AlertKind


@dataclass(frozen=True)
class PriorAlert:
    """An alert already recorded for the incident."""

    kind: AlertKind
    event_at: dt.datetime
    suppressed: bool
    maintenance_id: int | None


@dataclass(frozen=True)
class IncidentFacts:
    closed: bool
    consecutive_failures: int  # non-OK results since the incident opened, the newest included
    at: dt.datetime  # time of the newest result
    active_window_id: int | None  # maintenance window or silence active at ``at``


def decide(
    facts: IncidentFacts,
    prior: Sequence[PriorAlert],
    *,
    failure_threshold: int,
    reminder_interval: dt.timedelta | None,
) -> AlertKind | None:
    """Return the kind of alert to record now, or None."""
    openings = [alert for alert in prior if alert.kind is AlertKind.OPENED]

    if facts.closed:
        already_recovered = any(alert.kind is AlertKind.RECOVERED for alert in prior)
        return AlertKind.RECOVERED if openings and not already_recovered else None

    if facts.consecutive_failures < failure_threshold:
        return None

    delivered = [alert for alert in openings if not alert.suppressed]
    if not delivered:
        if facts.active_window_id is None:
            return AlertKind.OPENED
        recorded_in_window = any(alert.maintenance_id == facts.active_window_id for alert in openings)
        return None if recorded_in_window else AlertKind.OPENED

    if reminder_interval is None:
        return None
    notices = [alert.event_at for alert in prior if alert.kind in (AlertKind.OPENED, AlertKind.REMINDER)]
    if facts.at - max(notices) >= reminder_interval:
        return AlertKind.REMINDER
    return None


def opening_delivered(prior: Sequence[PriorAlert]) -> bool:
    """Return whether an opening alert of the incident was sent rather than suppressed."""
    return any(alert.kind is AlertKind.OPENED and not alert.suppressed for alert in prior)
