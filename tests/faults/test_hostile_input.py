"""Hostile and odd response bodies, through the real fetch, validate and record tasks.

A hostile server on 127.0.0.1 (``hostile_server.py``) replaces eight databases' endpoints
through their connections, two more databases get a broken connection, and one sweep runs those
ten DAGs. Each case must end in a stored
check with a clear reason, within a bounded time, and the sweep process, which runs every task
in-process under ``dag.test()``, must stay within a bounded peak memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.faults import render_table
from tests.faults.hostile_server import (
    NOTE_KEY,
    HostileCase,
    HostileServer,
    encode,
    oversized_stream,
    page,
    with_decomposed_keys,
    with_duplicate_key,
)
from tests.faults.monitor import SharedMonitor, SweepResult
from tests.faults.test_fault_matrix import normalised

pytestmark = pytest.mark.airflow

HUNDRED_MB = 100 * 1024 * 1024
NESTING_DEPTH = 100_000
NUMBER_DIGITS = 100_000
EMPTY_OBJECTS = 1_000_000
# Generous bounds. A sweep of these DAGs peaked at 0.55 GiB on a 2-core test machine. Reading the
# 100 MB body whole costs 0.2 GiB of buffers, and decoding it another 0.22 GiB (measured there).
PEAK_RSS_BOUND_MB = 1024
DAG_SECONDS_BOUND = 120.0
# The client may accept this much of the 100 MB body: the default max_response_bytes (32 MiB)
# plus what the loopback socket buffers hold before the client closes the connection.
ACCEPTED_BYTES_BOUND = 48 * 1024 * 1024


@dataclass(frozen=True)
class Expectation:
    status: str
    failure_kind: str | None
    reason_contains: str


def build_cases(server: HostileServer, catalog) -> dict[str, tuple[HostileCase, Expectation]]:  # type: ignore[no-untyped-def]
    def keyed_duplicates() -> Iterator[bytes]:
        records = server.signed_records("can_cuoc")
        field = next(spec.code for spec in server.database("can_cuoc").fields if spec.personal)
        return page([with_duplicate_key(record, field, "") for record in records])

    def nested_list_missing() -> Iterator[bytes]:
        database = "dinh_danh_dien_tu"
        field = catalog.service(12).databases[0].required_fields[0]
        records = server.signed_records(database)
        texts = []
        for index, record in enumerate(records):
            record.pop("_signature")
            if index % 2:
                record[field] = [{"loai": "giay_to", "so": record.get(field)}]
            else:
                del record[field]
            texts.append(encode(_resigned(server, record)))
        return page(texts)

    def decomposed_keys() -> Iterator[bytes]:
        texts = []
        records = server.signed_records("giay_phep_lai_xe")
        for index, record in enumerate(records):
            record.pop("_signature")
            record[NOTE_KEY] = "bản ghi thử"
            record = _resigned(server, record)
            texts.append(with_decomposed_keys(record) if index % 2 else encode(record))
        return page(texts)

    def hundred_megabytes() -> Iterator[bytes]:
        record = encode(server.signed_records("xuat_nhap_canh", 1)[0])
        return oversized_stream(record, HUNDRED_MB)

    def deep_nesting() -> Iterator[bytes]:
        record = server.signed_records("bao_hiem", 1)[0]
        text = encode(record)
        nested = b"[" * NESTING_DEPTH + b"]" * NESTING_DEPTH
        return page([text[:-1] + b',"LICH_SU":' + nested + b"}"])

    def not_utf8() -> Iterator[bytes]:
        database = server.database("tong_hop_tai_chinh")
        field = next(spec.code for spec in database.fields if spec.personal)
        records = [encode(record) for record in server.signed_records(database.code, 10)]
        # A personal value prefixed with Windows-1258 bytes, as an old system might send it.
        opening = f'"{field}":"'.encode()
        records[5] = records[5].replace(opening, opening + b"Nguy\xea\xcc n ", 1)
        return page(records)

    def huge_number() -> Iterator[bytes]:
        record = encode(server.signed_records("ly_lich_tu_phap", 1)[0])
        return page([record[:-1] + b',"SO_TIEN":' + b"9" * NUMBER_DIGITS + b"}"])

    def empty_objects() -> Iterator[bytes]:
        return page([b"{}"] * EMPTY_OBJECTS)

    return {
        "duplicate_keys": (
            HostileCase("duplicate_keys", "can_cuoc", "every record repeats its first personal field's key, "
                        "first with an empty value, then with the signed one", keyed_duplicates),
            Expectation("DEGRADED", "invalid_payload", "duplicate JSON keys"),
        ),
        "nested_list_missing": (
            HostileCase("nested_list_missing", "dinh_danh_dien_tu", "a required field is a nested list of "
                        "objects in half the records and absent from the other half", nested_list_missing),
            Expectation("DEGRADED", None, "below their completeness threshold"),
        ),
        "decomposed_unicode_keys": (
            HostileCase("decomposed_unicode_keys", "giay_phep_lai_xe", f"half the records spell every key in "
                        f"Unicode NFD, including the non-ASCII key {NOTE_KEY}; signatures cover the NFC form",
                        decomposed_keys),
            Expectation("OK", None, ""),
        ),
        "body_100_mb": (
            HostileCase("body_100_mb", "xuat_nhap_canh", "a valid page of 100 MB sent without Content-Length",
                        hundred_megabytes),
            Expectation("BROKEN", "oversized", "exceeds the limit"),
        ),
        "deep_nesting": (
            HostileCase("deep_nesting", "bao_hiem", f"one record carries an array nested {NESTING_DEPTH:,} levels deep",
                        deep_nesting),
            Expectation("BROKEN", "invalid_payload", "nesting is deeper than"),
        ),
        "not_utf8": (
            HostileCase("not_utf8", "tong_hop_tai_chinh", "one record value in Windows-1258 bytes, labelled UTF-8",
                        not_utf8),
            Expectation("BROKEN", "invalid_payload", "not valid UTF-8"),
        ),
        "huge_number": (
            HostileCase("huge_number", "ly_lich_tu_phap", f"one record carries an integer of {NUMBER_DIGITS:,} digits",
                        huge_number),
            Expectation("BROKEN", "invalid_payload", "digits exceeds the limit"),
        ),
        "tls_to_plain_http": (
            HostileCase("tls_to_plain_http", "nguoi_co_cong", "the connection's schema is https, but the stub port "
                        "speaks plain HTTP", None, connection={"schema": "https"}),
            Expectation("BROKEN", "tls", "TLS"),
        ),
        "connection_without_password": (
            HostileCase("connection_without_password", "dat_dai", "the connection has no password (client secret)",
                        None, connection={"password": ""}),
            Expectation("BROKEN", "task_error", "password"),
        ),
        "million_empty_objects": (
            HostileCase("million_empty_objects", "viec_lam", f"{EMPTY_OBJECTS:,} empty objects in one page (3 MB)",
                        empty_objects),
            Expectation("DEGRADED", "schema_drift", "absent from every record"),
        ),
    }


def _resigned(server: HostileServer, record: dict[str, Any]) -> dict[str, Any]:
    import datetime as dt

    from integration_monitor.signatures import sign_json_record

    record["_signature"] = sign_json_record(record, server.pki.json_signer, dt.datetime.now(dt.UTC))
    return record


@dataclass
class HostileRun:
    cases: dict[str, tuple[HostileCase, Expectation]]
    checks: dict[str, dict[str, Any]]
    sweep: SweepResult
    sent_bytes: dict[str, int]


@pytest.fixture(scope="module")
def hostile(monitor: SharedMonitor, catalog) -> Iterator[HostileRun]:  # type: ignore[no-untyped-def]
    server = HostileServer(catalog, monitor.canary_prefix).start()
    try:
        cases = build_cases(server, catalog)
        overrides: dict[str, str] = {}
        for case, _ in cases.values():
            if case.connection is not None:
                overrides.update(monitor.connection_env(case.database, **case.connection))
                continue
            server.add(case)
            overrides.update(monitor.connection_env(case.database, port=server.port))
        monitor.set_scenarios({})
        with monitor.environment(overrides):
            sweep = monitor.sweep(*(f"monitor_{case.database}" for case, _ in cases.values()))
    finally:
        server.stop()

    checks = {}
    for name, (case, _) in cases.items():
        rows = monitor.rows("select * from database_checks where database_code = :code order by id desc limit 1",
                            code=case.database)
        assert rows, f"{name}: no check stored"
        checks[name] = rows[0]
    run = HostileRun(cases, checks, sweep, dict(server.sent_bytes))
    render_table.write_section("hostile_input", _artefact(run))
    yield run


def _artefact(run: HostileRun) -> dict[str, Any]:
    rows = []
    for name, (case, expected) in run.cases.items():
        check = run.checks[name]
        rows.append([name, case.database, case.description, f"{expected.status} / {expected.failure_kind or '—'}",
                     f"{check['status']} / {check['failure_kind'] or '—'}", normalised(check["reason"]),
                     check["record_count"]])
    return {
        "title": "Hostile and odd input, broken connections (tests/faults/test_hostile_input.py)",
        "intro": (
            "A hostile HTTP server on 127.0.0.1 speaks the stub API (token, CA certificate, records page) and "
            "replaces eight databases' connections, two more connections are broken, and one sweep runs their DAGs "
            "through fetch, validate and record. "
            "Parseable records come from the stub's generator, with canary values in personal fields, and are "
            "signed by the hostile server's own CA, which it serves as the signing CA."
        ),
        "columns": ["case", "database", "what the server sends", "expected status / kind",
                    "observed status / kind", "reason stored", "records counted"],
        "rows": rows,
        "notes": [
            f"Bounds asserted: each DAG run finishes within {DAG_SECONDS_BOUND:.0f} s, and the sweep process, which "
            f"runs every task in-process, peaks below {PEAK_RSS_BOUND_MB} MiB resident memory.",
            "The 100 MB body is read up to the connection's `max_response_bytes` (32 MiB by default) and no further: "
            f"the hostile server could send less than {ACCEPTED_BYTES_BOUND // 2**20} MiB of it before the client "
            "closed the connection.",
            "The decoder keeps the last value of a repeated key and normalises keys to NFC, so a decomposed key "
            "and its composed twin are one key.",
            "The batch is cut to `batch_size` (500) records after decoding, so a page of a million empty objects is "
            "decoded in full (bounded by `max_response_bytes`) before it is cut.",
        ],
    }


@pytest.mark.parametrize("name", ["duplicate_keys", "nested_list_missing", "decomposed_unicode_keys", "body_100_mb",
                                  "deep_nesting", "not_utf8", "huge_number", "million_empty_objects",
                                  "tls_to_plain_http", "connection_without_password"])
def test_hostile_case_is_recorded(hostile: HostileRun, name: str) -> None:
    _, expected = hostile.cases[name]
    check = hostile.checks[name]
    assert (check["status"], check["failure_kind"]) == (expected.status, expected.failure_kind), check["reason"]
    if expected.status != "OK":
        assert expected.reason_contains in (check["reason"] or ""), check["reason"]


def test_hostile_runs_finish_in_bounded_time(hostile: HostileRun) -> None:
    for case, _ in hostile.cases.values():
        seconds = hostile.sweep.dag_seconds[f"monitor_{case.database}"]
        assert seconds < DAG_SECONDS_BOUND, f"{case.name}: {seconds:.1f} s"


def test_hostile_sweep_memory_is_bounded(hostile: HostileRun) -> None:
    assert hostile.sweep.peak_rss_mb < PEAK_RSS_BOUND_MB, f"peak RSS {hostile.sweep.peak_rss_mb:.0f} MiB"


def test_oversized_body_is_not_read_whole(hostile: HostileRun) -> None:
    accepted = hostile.sent_bytes["body_100_mb"]
    assert accepted < ACCEPTED_BYTES_BOUND, f"the client accepted {accepted / 2**20:.0f} MiB"


def test_decomposed_keys_are_one_field(hostile: HostileRun, monitor: SharedMonitor) -> None:
    check = hostile.checks["decomposed_unicode_keys"]
    assert check["signature_valid_ratio"] == 1.0
    fields = monitor.rows("select count(*) as failed from field_checks where check_id = :id and not passed",
                          id=check["id"])
    assert fields[0]["failed"] == 0


def test_nested_list_counts_as_present(hostile: HostileRun, monitor: SharedMonitor, catalog) -> None:  # type: ignore[no-untyped-def]
    field = catalog.service(12).databases[0].required_fields[0]
    check = hostile.checks["nested_list_missing"]
    figures = monitor.rows("select completeness, missing_count from field_checks where check_id = :id "
                           "and field_code = :field", id=check["id"], field=field)
    assert figures == [{"completeness": 0.5, "missing_count": 50}]


def test_duplicate_keys_block_services(hostile: HostileRun, monitor: SharedMonitor, catalog) -> None:  # type: ignore[no-untyped-def]
    database = hostile.cases["duplicate_keys"][0].database
    readers = [service.number for service in catalog.services_reading(database)]
    assert readers, database
    for number in readers:
        [latest] = monitor.rows("select ready, reasons from service_statuses where service_number = :number "
                                "order by evaluated_at desc, id desc limit 1", number=number)
        reasons = latest["reasons"] if isinstance(latest["reasons"], list) else json.loads(latest["reasons"])
        kinds = {(reason["database"], reason["kind"]) for reason in reasons}
        assert not latest["ready"], number
        assert (database, "payload_untrusted") in kinds, (number, kinds)
