"""Operator reports built from the status store: the status matrix and the blocking reasons."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from integration_monitor.catalog.models import Catalog
from integration_monitor.i18n import translator
from integration_monitor.labels import database_status_label, failure_kind_label
from integration_monitor.status import BlockingReason, BlockKind

# One-letter cell marks, so that status never depends on colour alone.
CELL_MARKS = {"OK": "✓", "DEGRADED": "!", "BROKEN": "✗", "NO_DATA": "∅", None: "?"}


@dataclass(frozen=True)
class DatabaseSnapshot:
    code: str
    status: str | None
    failure_kind: str | None
    checked_at: dt.datetime | None
    reason: str | None


@dataclass(frozen=True)
class ServiceSnapshot:
    number: int
    ready: bool | None
    evaluated_at: dt.datetime | None
    reasons: tuple[BlockingReason, ...]


@dataclass(frozen=True)
class StatusSnapshot:
    databases: dict[str, DatabaseSnapshot]
    services: dict[int, ServiceSnapshot]


def load_snapshot(catalog: Catalog, store_url: str | None = None) -> StatusSnapshot:
    """Read the latest status of every database and service from the store."""
    from integration_monitor.store.engine import session_factory

    with session_factory(store_url)() as session:
        snapshot, _checks = read_snapshot(catalog, session)
    return snapshot


def read_snapshot(catalog: Catalog, session: Any) -> tuple[StatusSnapshot, dict[str, Any]]:
    """Return the latest snapshot in an open session, and the database checks behind it."""
    from integration_monitor.store.repository import latest_checks, latest_service_statuses

    checks = latest_checks(session, [database.code for database in catalog.databases])
    statuses = latest_service_statuses(session, [service.number for service in catalog.services])
    databases = {
        database.code: _database_snapshot(database.code, checks.get(database.code)) for database in catalog.databases
    }
    services = {
        service.number: _service_snapshot(service.number, statuses.get(service.number)) for service in catalog.services
    }
    return StatusSnapshot(databases, services), checks


def _database_snapshot(code: str, check: Any) -> DatabaseSnapshot:
    if check is None:
        return DatabaseSnapshot(code, None, None, None, None)
    return DatabaseSnapshot(code, check.status, check.failure_kind, check.checked_at, check.reason)


def _service_snapshot(number: int, row: Any) -> ServiceSnapshot:
    if row is None:
        return ServiceSnapshot(number, None, None, ())
    reasons = tuple(BlockingReason.from_dict(item) for item in row.reasons or [])
    return ServiceSnapshot(number, row.ready, row.evaluated_at, reasons)


def snapshot_as_dict(catalog: Catalog, snapshot: StatusSnapshot) -> dict[str, Any]:
    return {
        "databases": [
            {
                "code": item.code,
                "status": item.status,
                "failure_kind": item.failure_kind,
                "checked_at": item.checked_at.isoformat() if item.checked_at else None,
                "reason": item.reason,
            }
            for item in snapshot.databases.values()
        ],
        "services": [
            {
                "number": item.number,
                "name": catalog.service(item.number).name,
                "end_to_end_ready": item.ready,
                "end_to_end_per_appendix": catalog.service(item.number).end_to_end_per_appendix,
                "evaluated_at": item.evaluated_at.isoformat() if item.evaluated_at else None,
                "blocking_reasons": [reason.as_dict() for reason in item.reasons],
            }
            for item in snapshot.services.values()
        ],
    }


def describe_reason(reason: BlockingReason, catalog: Catalog, language: str | None = None) -> str:
    """Return one operator-readable sentence for a blocking reason."""
    _ = translator("cli", language)
    database = catalog.database(reason.database)
    name = database.name_en if _("Service") == "Service" else database.name
    fields = ", ".join(reason.fields[:8]) + (" …" if len(reason.fields) > 8 else "")
    texts = {
        BlockKind.NOT_CHECKED: _("{db}: not checked yet", db=name),
        BlockKind.DATABASE_BROKEN: _("{db}: connection broken ({kind})", db=name,
                                     kind=failure_kind_label(reason.failure_kind, language)),
        BlockKind.NO_DATA: _("{db}: returned no data", db=name),
        BlockKind.ACCESS_DENIED: _("{db}: access refused for this service's code", db=name),
        BlockKind.FIELDS_MISSING: _("{db}: fields absent from the response: {fields}", db=name, fields=fields),
        BlockKind.FIELDS_INCOMPLETE: _("{db}: {count} required fields below the completeness threshold: {fields}",
                                       db=name, count=len(reason.fields), fields=fields),
        BlockKind.SIGNATURE_MISSING: _("{db}: records without a digital signature (signed: {ratio})",
                                       db=name, ratio=reason.detail),
        BlockKind.SIGNATURE_INVALID: _("{db}: invalid digital signatures (valid: {ratio})", db=name,
                                       ratio=reason.detail),
        BlockKind.PAYLOAD_UNTRUSTED: _("{db}: records repeat JSON keys, so their values cannot be trusted", db=name),
    }
    return texts[reason.kind]


def format_matrix(catalog: Catalog, snapshot: StatusSnapshot, language: str | None = None) -> str:
    """Return the services × databases matrix and, for each service not ready, why."""
    _ = translator("cli", language)
    english = _("Service") == "Service"
    codes = [database.code for database in catalog.databases]
    header = "    " + " ".join(f"{index + 1:>2}" for index in range(len(codes)))
    lines = [_("End-to-end status of the public services (services × national databases)"), "", header]

    for service in catalog.services:
        cells = []
        for code in codes:
            if code not in service.database_codes():
                cells.append(" ·")
                continue
            cells.append(f" {cell_mark(service.number, code, snapshot)}")
        verdict = snapshot.services[service.number].ready
        if verdict is None:
            label = _("NO RESULT")
        elif verdict:
            label = _("READY")
        else:
            label = _("NOT READY")
        name = service.name_en if english else service.name
        lines.append(f"{service.number:>2}. " + " ".join(cells) + f"  {label:<16} {name[:60]}")

    lines += ["", _("Databases:")]
    for index, code in enumerate(codes):
        item = snapshot.databases[code]
        database = catalog.database(code)
        status = database_status_label(item.status, language).upper() if item.status else _("not checked")
        kind = f" ({failure_kind_label(item.failure_kind, language)})" if item.failure_kind else ""
        lines.append(f"  {index + 1:>2} {code:<22} {CELL_MARKS.get(item.status, '?')} {status}{kind}"
                     f" — {database.name_en if english else database.name}")
    lines.append(_("Marks: ✓ usable, ! usable with problems for this service, ✗ broken, ∅ no data, ? not checked, · not used."))

    not_ready = [item for item in snapshot.services.values() if item.ready is False]
    if not_ready:
        lines += ["", _("Why services are not end-to-end:")]
    for item in not_ready:
        service = catalog.service(item.number)
        lines.append(f"  {item.number:>2}. {service.name_en if english else service.name}")
        for reason in item.reasons:
            lines.append(f"      - {describe_reason(reason, catalog, language)}")
    return "\n".join(lines)


def cell_mark(service_number: int, database_code: str, snapshot: StatusSnapshot) -> str:
    """Return the matrix mark of one service and database (see ``CELL_MARKS``)."""
    database = snapshot.databases[database_code]
    if database.status is None:
        return CELL_MARKS[None]
    if database.status in {"BROKEN", "NO_DATA"}:
        return CELL_MARKS[database.status]
    blocked = any(reason.database == database_code for reason in snapshot.services[service_number].reasons)
    return CELL_MARKS["DEGRADED"] if blocked else CELL_MARKS["OK"]
