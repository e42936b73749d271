"""The fetch task's work: read a batch, check signatures, and keep only presence bits and counts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import Counter
from typing import Any

from integration_monitor.catalog.models import Catalog, NationalDatabase
from integration_monitor.fetch import EndpointConfig, FailureKind, FetchError, fetch_batch, fetch_ca_certificate, probe_access
from integration_monitor.pipeline.measurement import AccessOutcome, FetchFailure, Measurement, pack_bits
from integration_monitor.service_codes import service_code
from integration_monitor.validation.suites import checked_fields

log = logging.getLogger(__name__)

ENVELOPE_KEYS = frozenset({"_id", "_signature"})


class FetchStepError(Exception):
    """The batch could not be read; carries the classified failure for the record task."""

    def __init__(self, failure: FetchFailure) -> None:
        self.failure = failure
        super().__init__(f"{failure.database_code}: {failure.failure_kind}: {failure.reason}")


def run_fetch(catalog: Catalog, database_code: str, config: EndpointConfig, now: dt.datetime) -> Measurement:
    database = catalog.database(database_code)
    records, batch, access = _read_batch_for_consumers(catalog, database_code, config, now)

    fields = checked_fields(catalog, database_code)
    presence_bits, absent, unexpected = _presence(records, database, fields)
    signature_present, signature_valid, failures = _signatures(records, database, config, now)

    log.info(
        "Fetched %s: %d records in %d pages, %d bytes, %.0f ms; %d fields absent, %d unexpected keys",
        database_code, len(records), batch.pages, batch.bytes_read, batch.latency_ms, len(absent), len(unexpected),
    )
    return Measurement(
        database_code=database_code,
        fetched_at=now.isoformat(),
        record_count=len(records),
        duplicate_count=_duplicate_count(records),
        latency_ms=batch.latency_ms,
        http_status=batch.http_status,
        attempts=batch.attempts,
        pages=batch.pages,
        bytes_read=batch.bytes_read,
        checked_fields=fields,
        absent_fields=absent,
        unexpected_fields=unexpected,
        presence_bits=presence_bits,
        signature_present_bits=signature_present,
        signature_valid_bits=signature_valid,
        signature_failures=failures,
        access=access,
        duplicate_keys=batch.duplicate_keys,
    )


def _read_batch_for_consumers(
    catalog: Catalog, database_code: str, config: EndpointConfig, now: dt.datetime
) -> tuple[list[dict[str, Any]], Any, list[AccessOutcome]]:
    """Read the batch under the first consuming service that is allowed, probing the others.

    Real exchange platforms grant access per public-service code, so a database can serve one
    service and reject another. Each consumer's access is recorded.
    """
    access: list[AccessOutcome] = []
    batch = None
    for service in catalog.services_reading(database_code):
        code = service_code(service.number)
        if batch is not None:
            probe = probe_access(config, database_code, code)
            access.append(AccessOutcome(service.number, probe.allowed, _kind(probe.failure_kind), probe.http_status))
            continue
        try:
            batch = fetch_batch(config, database_code, code)
        except FetchError as error:
            if error.kind == FailureKind.UNAUTHORIZED and error.http_status == 403:
                access.append(AccessOutcome(service.number, False, error.kind.value, error.http_status))
                continue
            raise FetchStepError(_failure(database_code, error, access, now)) from error
        access.append(AccessOutcome(service.number, True, None, batch.http_status))

    if batch is None:
        raise FetchStepError(
            FetchFailure(
                database_code=database_code,
                fetched_at=now.isoformat(),
                failure_kind=FailureKind.UNAUTHORIZED.value,
                reason="every consuming service's code was refused (HTTP 403)",
                http_status=403,
                access=access,
            )
        )
    return batch.records, batch, access


def _kind(kind: Any) -> str | None:
    return None if kind is None else str(getattr(kind, "value", kind))


def _failure(database_code: str, error: FetchError, access: list[AccessOutcome], now: dt.datetime) -> FetchFailure:
    return FetchFailure(
        database_code=database_code,
        fetched_at=now.isoformat(),
        failure_kind=error.kind.value,
        reason=error.reason,
        http_status=error.http_status,
        latency_ms=error.latency_ms,
        attempts=error.attempts,
        access=access,
    )


def _presence(
    records: list[dict[str, Any]], database: NationalDatabase, fields: list[str]
) -> tuple[dict[str, str], list[str], list[str]]:
    from integration_monitor.completeness import columns_seen, presence_frame

    frame = presence_frame(records, fields)
    seen = columns_seen(records)
    known = {spec.code for spec in database.fields} | ENVELOPE_KEYS
    absent = [code for code in fields if code not in seen]
    unexpected = sorted(seen - known)
    bits = {code: pack_bits(frame[code].to_numpy()) for code in fields if code in seen}
    return bits, absent, unexpected


def _signatures(
    records: list[dict[str, Any]], database: NationalDatabase, config: EndpointConfig, now: dt.datetime
) -> tuple[str | None, str | None, dict[str, int]]:
    if not database.signed:
        return None, None, {}
    from integration_monitor.signatures import TrustStore, verify_record

    trust = TrustStore.from_pem(fetch_ca_certificate(config))
    present: list[bool] = []
    valid: list[bool] = []
    failures: Counter[str] = Counter()
    for record in records:
        check = verify_record(record, trust, now)
        present.append(check.present)
        valid.append(check.valid)
        if not check.valid:
            failures[str(check.reason)] += 1
    return pack_bits(present), pack_bits(valid), dict(failures)


def _duplicate_count(records: list[dict[str, Any]]) -> int:
    digests = {
        hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")).digest()
        for record in records
    }
    return len(records) - len(digests)
