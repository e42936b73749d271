"""The alert policy as a pure function: thresholds, reminders, recoveries and windows."""

from __future__ import annotations

import datetime as dt

import pytest

from integration_monitor.alerts.models import AlertKind
from integration_monitor.alerts.policy import IncidentFacts, PriorAlert, decide, opening_delivered

T0 = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def facts(consecutive: int = 1, minutes: float = 0, closed: bool = False, window: int | None = None) -> IncidentFacts:
    return IncidentFacts(closed=closed, consecutive_failures=consecutive, at=T0 + dt.timedelta(minutes=minutes),
                         active_window_id=window)


def alert(kind: AlertKind, minutes: float = 0, suppressed: bool = False, window: int | None = None) -> PriorAlert:
    return PriorAlert(kind, T0 + dt.timedelta(minutes=minutes), suppressed, window)


OPENED = alert(AlertKind.OPENED)
SUPPRESSED_OPENING = alert(AlertKind.OPENED, suppressed=True, window=7)


@pytest.mark.parametrize(
    ("current", "prior", "threshold", "expected"),
    [
        (facts(1), [], 1, AlertKind.OPENED),
        (facts(1), [], 2, None),
        (facts(2), [], 2, AlertKind.OPENED),
        (facts(5), [], 2, AlertKind.OPENED),
        (facts(2, minutes=15), [OPENED], 1, None),
        (facts(5, minutes=59), [OPENED], 1, None),
        (facts(5, minutes=60), [OPENED], 1, AlertKind.REMINDER),
        (facts(9, minutes=119), [OPENED, alert(AlertKind.REMINDER, 60)], 1, None),
        (facts(9, minutes=120), [OPENED, alert(AlertKind.REMINDER, 60)], 1, AlertKind.REMINDER),
        (facts(closed=True), [OPENED], 1, AlertKind.RECOVERED),
        (facts(closed=True), [OPENED, alert(AlertKind.RECOVERED)], 1, None),
        (facts(closed=True), [], 1, None),
        (facts(1, window=7), [], 1, AlertKind.OPENED),
        (facts(2, window=7), [SUPPRESSED_OPENING], 1, None),
        (facts(2, window=8), [SUPPRESSED_OPENING], 1, AlertKind.OPENED),
        (facts(3), [SUPPRESSED_OPENING], 1, AlertKind.OPENED),
        (facts(closed=True), [SUPPRESSED_OPENING], 1, AlertKind.RECOVERED),
    ],
)
def test_decide(current, prior, threshold, expected):
    assert decide(current, prior, failure_threshold=threshold, reminder_interval=HOUR) == expected


def test_no_reminder_without_interval():
    assert decide(facts(50, minutes=10_000), [OPENED], failure_threshold=1, reminder_interval=None) is None


def test_reminder_counts_from_suppressed_reminders_too():
    prior = [OPENED, alert(AlertKind.REMINDER, 60, suppressed=True, window=3)]
    assert decide(facts(9, minutes=100, window=3), prior, failure_threshold=1, reminder_interval=HOUR) is None


def test_opening_delivered():
    assert opening_delivered([OPENED])
    assert not opening_delivered([SUPPRESSED_OPENING])
    assert opening_delivered([SUPPRESSED_OPENING, OPENED])
    assert not opening_delivered([])
