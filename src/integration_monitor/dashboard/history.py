"""Synthetic status history for tests and benchmarks: statuses, counts and ratios only.

``generate_history`` writes what the monitoring DAGs would have written over a period: one
database check per national database per interval (with field and service-access rows), one
rollup verdict per service per interval, and the incidents that follow from them. Each
database moves between healthy and failing episodes by a seeded random walk, so the same
options always produce the same rows.

Service verdicts come from the rollup's own rule (``evaluate_service``), evaluated once per
distinct combination of database states, because field completeness is kept clear of the
thresholds except during failing episodes.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from integration_monitor.catalog.models import Catalog, NationalDatabase
from integration_monitor.status import DatabaseStatus
from integration_monitor.store.models import DatabaseCheck, FieldCheck, Incident, ServiceAccess, ServiceStatusRow

INSERT_CHUNK = 20_000

# Per-step chance that a healthy database starts a failing episode, and that an episode ends.
EPISODE_START = {
    DatabaseStatus.BROKEN: 0.0012,
    DatabaseStatus.DEGRADED: 0.0008,
    DatabaseStatus.NO_DATA: 0.0002,
}
EPISODE_END = 0.06

BROKEN_KINDS = (
    ("timeout", None, "read timed out after 30 s"),
    ("http_5xx", 503, "HTTP 503 Service Unavailable from the endpoint"),
    ("refused", None, "connection refused"),
    ("tls", None, "TLS handshake failed: certificate has expired"),
    ("dns", None, "host name did not resolve"),
    ("rate_limited", 429, "HTTP 429 Too Many Requests after 3 attempts"),
    ("unauthorized", 401, "HTTP 401 from the token endpoint"),
    ("invalid_payload", 200, "the response is not valid JSON"),
)


@dataclass(frozen=True)
class ChronicGap:
    """A lasting shortfall of one database, modelled on the limitations the appendix states."""

    field_share: float  # share of the database's checked fields that stay incomplete
    completeness: float  # their completeness
    signature_present: float | None = None


# The appendix states that health records lack fields and digital signatures, and civil-status
# records (births, deaths) are incomplete.
CHRONIC_GAPS = {
    "kham_chua_benh": ChronicGap(field_share=0.3, completeness=0.71, signature_present=0.82),
    "ho_tich": ChronicGap(field_share=0.1, completeness=0.86),
}


@dataclass(frozen=True)
class HistoryOptions:
    start: dt.datetime
    end: dt.datetime
    interval: dt.timedelta = dt.timedelta(minutes=5)
    seed: int = 2025
    # Field and service-access rows are written only for checks at most this long before
    # ``end`` (None: all). A year of them for every check is tens of millions of rows.
    detail_window: dt.timedelta | None = None
    services: bool = True
    incidents: bool = True


@dataclass
class HistorySummary:
    database_checks: int = 0
    field_checks: int = 0
    service_access: int = 0
    service_statuses: int = 0
    incidents: int = 0
    seconds: float = 0.0


@dataclass
class _DatabaseWalk:
    """The random walk of one database: its profile and its current episode."""

    database: NationalDatabase
    checked_fields: tuple[str, ...]
    readers: tuple[int, ...]
    latency_ms: float
    batch_size: int
    thresholds: Any
    chronic_fields: frozenset[str]
    gap: ChronicGap | None
    state: DatabaseStatus = DatabaseStatus.OK
    episode: dict[str, Any] = field(default_factory=dict)


def time_steps(options: HistoryOptions) -> Iterator[dt.datetime]:
    moment = options.start
    while moment < options.end:
        yield moment
        moment += options.interval


def generate_history(session: Session, catalog: Catalog, options: HistoryOptions) -> HistorySummary:
    """Write synthetic history for every database and service of ``catalog`` into the store."""
    if options.start.tzinfo is None or options.end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if options.end <= options.start:
        raise ValueError(f"end {options.end.isoformat()} is not after start {options.start.isoformat()}")
    if options.interval <= dt.timedelta(0):
        raise ValueError("interval must be positive")

    began = time.perf_counter()
    rng = random.Random(options.seed)
    walks = [_walk_for(database, catalog, rng) for database in catalog.databases]
    writer = _Writer(session)
    check_id = (session.scalar(select(func.max(DatabaseCheck.id))) or 0) + 1
    tracker = _IncidentTracker()
    verdict_cache: dict[tuple[Any, ...], list[Any]] = {}
    detail_cutoff = options.end - options.detail_window if options.detail_window is not None else None

    for moment in time_steps(options):
        run_id = f"scheduled__{moment.isoformat()}"
        keep_details = detail_cutoff is None or moment >= detail_cutoff
        states: dict[str, SimpleNamespace] = {}
        for walk in walks:
            check = _next_check(walk, rng, moment)
            writer.add(DatabaseCheck, {**check["row"], "id": check_id, "run_id": run_id})
            if keep_details:
                writer.add_many(FieldCheck, [{**row, "check_id": check_id} for row in check["fields"]])
                writer.add_many(ServiceAccess, [{**row, "check_id": check_id} for row in check["access"]])
            states[walk.database.code] = _state_view(check)
            if options.incidents:
                tracker.observe("database", walk.database.code, check["status"] == DatabaseStatus.OK.value,
                                check["status"], check["failure_kind"], check["reason"], moment, run_id)
            check_id += 1

        if options.services:
            verdicts = _verdicts(catalog, states, verdict_cache)
            rollup_run = f"asset_triggered__{moment.isoformat()}"
            for verdict in verdicts:
                writer.add(ServiceStatusRow, {
                    "service_number": verdict.service_number, "run_id": rollup_run, "evaluated_at": moment,
                    "ready": verdict.ready, "status": verdict.status.value,
                    "reasons": [reason.as_dict() for reason in verdict.reasons],
                })
                if options.incidents:
                    kinds = sorted({reason.kind.value for reason in verdict.reasons})
                    tracker.observe("service", str(verdict.service_number), verdict.ready, verdict.status.value,
                                    kinds[0] if kinds else None,
                                    "; ".join(f"{reason.database}: {reason.kind.value}" for reason in verdict.reasons)
                                    or None, moment, rollup_run)

    for incident in tracker.finish():
        writer.add(Incident, incident)
    writer.flush()
    _advance_id_sequence(session)
    summary = writer.summary
    summary.seconds = time.perf_counter() - began
    return summary


def _advance_id_sequence(session: Session) -> None:
    """Move PostgreSQL's id sequence past the ids written here, so later inserts do not collide."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text(
        "SELECT setval(pg_get_serial_sequence('database_checks', 'id'), (SELECT max(id) FROM database_checks))"
    ))


def _walk_for(database: NationalDatabase, catalog: Catalog, rng: random.Random) -> _DatabaseWalk:
    from integration_monitor.thresholds import thresholds_for

    readers = catalog.services_reading(database.code)
    required = {code for service in readers for entry in service.databases if entry.database == database.code
                for code in entry.required_fields}
    checked = tuple(spec.code for spec in database.fields if spec.code in required)
    gap = CHRONIC_GAPS.get(database.code)
    chronic: frozenset[str] = frozenset()
    if gap is not None and checked:
        count = max(1, round(len(checked) * gap.field_share))
        chronic = frozenset(rng.sample(checked, count))
    return _DatabaseWalk(
        database=database,
        checked_fields=checked,
        readers=tuple(service.number for service in readers),
        latency_ms=rng.uniform(80, 900),
        batch_size=rng.choice((200, 500, 1000)),
        thresholds=thresholds_for(database.code),
        chronic_fields=chronic,
        gap=gap,
    )


def _next_check(walk: _DatabaseWalk, rng: random.Random, moment: dt.datetime) -> dict[str, Any]:
    _advance_episode(walk, rng)
    if walk.state in (DatabaseStatus.BROKEN, DatabaseStatus.NO_DATA):
        return _failed_check(walk, rng, moment)
    return _answered_check(walk, rng, moment)


def _advance_episode(walk: _DatabaseWalk, rng: random.Random) -> None:
    if walk.state != DatabaseStatus.OK:
        if rng.random() < EPISODE_END:
            walk.state, walk.episode = DatabaseStatus.OK, {}
        return
    draw = rng.random()
    for state, chance in EPISODE_START.items():
        if draw < chance:
            walk.state = state
            walk.episode = _new_episode(walk, rng, state)
            return
        draw -= chance


def _new_episode(walk: _DatabaseWalk, rng: random.Random, state: DatabaseStatus) -> dict[str, Any]:
    if state == DatabaseStatus.BROKEN:
        kind, http_status, reason = rng.choice(BROKEN_KINDS)
        return {"kind": kind, "http_status": http_status, "reason": reason}
    if state == DatabaseStatus.DEGRADED and walk.checked_fields:
        count = min(len(walk.checked_fields), rng.randint(1, 3))
        drift = rng.random() < 0.2
        return {
            "fields": {code: rng.uniform(0.55, 0.9) for code in rng.sample(walk.checked_fields, count)},
            "absent": rng.choice(walk.checked_fields) if drift else None,
            "denied": rng.choice(walk.readers) if walk.readers and rng.random() < 0.2 else None,
        }
    return {}


def _failed_check(walk: _DatabaseWalk, rng: random.Random, moment: dt.datetime) -> dict[str, Any]:
    if walk.state == DatabaseStatus.NO_DATA:
        kind, http_status, reason = "empty", 200, "the endpoint returned no records"
        latency: float | None = walk.latency_ms * rng.uniform(0.8, 1.3)
    else:
        kind, http_status, reason = walk.episode["kind"], walk.episode["http_status"], walk.episode["reason"]
        latency = walk.latency_ms
        if kind == "timeout":
            latency = 30_000.0
        elif kind in ("refused", "dns"):
            latency = None
    row = {
        "database_code": walk.database.code, "checked_at": moment, "status": walk.state.value,
        "failure_kind": kind, "reason": reason, "latency_ms": latency, "http_status": http_status,
        "attempts": 3, "record_count": 0, "duplicate_count": 0,
        "signature_present_ratio": None, "signature_valid_ratio": None,
    }
    return {"row": row, "status": walk.state.value, "failure_kind": kind, "reason": reason,
            "fields": [], "access": [], "signature_present": None, "signature_valid": None, "signature_low": False}


def _answered_check(walk: _DatabaseWalk, rng: random.Random, moment: dt.datetime) -> dict[str, Any]:
    limits = walk.thresholds
    degraded_fields: dict[str, float] = walk.episode.get("fields", {})
    absent = walk.episode.get("absent")
    fields = []
    for code in walk.checked_fields:
        threshold = limits.field(code)
        if code == absent:
            completeness = 0.0
        elif code in degraded_fields:
            completeness = min(degraded_fields[code] + rng.gauss(0, 0.01), threshold - 0.01)
        elif code in walk.chronic_fields and walk.gap is not None:
            completeness = min(walk.gap.completeness + rng.gauss(0, 0.01), threshold - 0.01)
        else:
            completeness = min(1.0, max(threshold + 0.002, rng.gauss(0.985, 0.008)))
        completeness = max(0.0, completeness)
        fields.append({
            "field_code": code, "present": code != absent, "completeness": round(completeness, 4),
            "missing_count": round((1 - completeness) * walk.batch_size), "threshold": threshold,
            "passed": completeness >= threshold,
        })

    denied = walk.episode.get("denied")
    access = [{"service_number": number, "allowed": number != denied,
               "failure_kind": "unauthorized" if number == denied else None,
               "http_status": 403 if number == denied else 200} for number in walk.readers]
    signature_present, signature_valid = _signature_ratios(walk, rng)

    problems = []
    signature_low = signature_present is not None and signature_present < limits.signature_present
    failed = [row["field_code"] for row in fields if not row["passed"]]
    if absent is not None:
        problems.append("1 required fields absent from every record")
    if failed:
        problems.append(f"{len(failed)} fields below their completeness threshold")
    if signature_low:
        problems.append(f"signature presence {signature_present:.1%} below {limits.signature_present:.0%}")
    if denied is not None:
        problems.append(f"access refused for services {denied}")
    status = DatabaseStatus.DEGRADED if problems else DatabaseStatus.OK
    failure_kind = None
    if absent is not None:
        failure_kind = "schema_drift"
    elif denied is not None:
        failure_kind = "unauthorized"
    reason = "; ".join(problems) or None

    row = {
        "database_code": walk.database.code, "checked_at": moment, "status": status.value,
        "failure_kind": failure_kind, "reason": reason,
        "latency_ms": round(walk.latency_ms * rng.lognormvariate(0, 0.25), 1), "http_status": 200,
        "attempts": 1, "record_count": walk.batch_size, "duplicate_count": rng.choice((0, 0, 0, 1)),
        "signature_present_ratio": signature_present, "signature_valid_ratio": signature_valid,
    }
    return {"row": row, "status": status.value, "failure_kind": failure_kind, "reason": reason,
            "fields": fields, "access": access, "signature_present": signature_present,
            "signature_valid": signature_valid, "signature_low": signature_low}


def _signature_ratios(walk: _DatabaseWalk, rng: random.Random) -> tuple[float | None, float | None]:
    if not walk.database.signed:
        return None, None
    limits = walk.thresholds
    if walk.gap is not None and walk.gap.signature_present is not None:
        present = min(walk.gap.signature_present + rng.gauss(0, 0.005), limits.signature_present - 0.01)
    else:
        present = min(1.0, max(limits.signature_present + 0.001, rng.gauss(0.998, 0.002)))
    valid = min(present, max(limits.signature_valid + 0.001, present - abs(rng.gauss(0, 0.001))))
    if present < limits.signature_present:
        valid = present
    return round(present, 4), round(valid, 4)


def _state_view(check: dict[str, Any]) -> SimpleNamespace:
    """Return an object shaped like a stored ``DatabaseCheck`` for the rollup rule."""
    return SimpleNamespace(
        status=check["status"], failure_kind=check["failure_kind"], reason=check["reason"],
        signature_present_ratio=check["signature_present"], signature_valid_ratio=check["signature_valid"],
        fields=[SimpleNamespace(**row) for row in check["fields"]],
        access=[SimpleNamespace(**row) for row in check["access"]],
        signature_low=check["signature_low"],
    )


def _verdicts(catalog: Catalog, states: dict[str, SimpleNamespace], cache: dict[tuple[Any, ...], list[Any]]) -> list[Any]:
    from integration_monitor.pipeline.rollup_step import evaluate_services

    key = tuple(
        (code, state.status, state.failure_kind,
         tuple(row.field_code for row in state.fields if not row.passed or not row.present),
         tuple(row.service_number for row in state.access if not row.allowed),
         state.signature_low)
        for code, state in sorted(states.items())
    )
    if key not in cache:
        cache[key] = evaluate_services(catalog, states)
    return cache[key]


class _IncidentTracker:
    """Turns status series into incident rows, one per unhealthy stretch of a subject."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], dict[str, Any]] = {}
        self._rows: list[dict[str, Any]] = []

    def observe(self, scope: str, subject: str, healthy: bool, status: str, failure_kind: str | None,
                reason: str | None, at: dt.datetime, run_id: str) -> None:
        key = (scope, subject)
        incident = self._open.get(key)
        if healthy:
            if incident is not None:
                incident.update(closed_at=at, closed_by_run=run_id)
                self._rows.append(self._open.pop(key))
            return
        if incident is None:
            self._open[key] = {
                "scope": scope, "subject": subject, "status": status, "failure_kind": failure_kind,
                "reason": reason, "opened_at": at, "opened_by_run": run_id, "last_seen_at": at,
                "closed_at": None, "closed_by_run": None,
            }
            return
        incident.update(status=status, failure_kind=failure_kind, reason=reason, last_seen_at=at)

    def finish(self) -> list[dict[str, Any]]:
        return self._rows + list(self._open.values())


class _Writer:
    """Buffers rows per table and inserts them in chunks with executemany."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._buffers: dict[type, list[dict[str, Any]]] = {}
        self._pending = 0
        self.summary = HistorySummary()

    def add(self, model: type, row: dict[str, Any]) -> None:
        self._buffers.setdefault(model, []).append(row)
        self._count(model, 1)

    def add_many(self, model: type, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._buffers.setdefault(model, []).extend(rows)
            self._count(model, len(rows))

    def _count(self, model: type, count: int) -> None:
        attribute = {DatabaseCheck: "database_checks", FieldCheck: "field_checks", ServiceAccess: "service_access",
                     ServiceStatusRow: "service_statuses", Incident: "incidents"}[model]
        setattr(self.summary, attribute, getattr(self.summary, attribute) + count)
        self._pending += count
        if self._pending >= INSERT_CHUNK:
            self.flush()

    def flush(self) -> None:
        # Parents first, so that field and access rows find their check.
        for model in (DatabaseCheck, FieldCheck, ServiceAccess, ServiceStatusRow, Incident):
            rows = self._buffers.pop(model, None)
            if rows:
                self._session.execute(insert(model), rows)
        self._pending = 0
