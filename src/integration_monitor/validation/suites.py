"""Great Expectations suites per national database, built from the catalog and the thresholds.

A suite checks the presence table of one batch, in which a missing value is null and a
present one is 1. It expects:

- at least ``min_records`` rows;
- each checked field to exist as a column and to be non-null in at least its completeness
  threshold of the rows;
- for a signed database, the signature columns to be non-null in at least their thresholds.

The checked fields are the union of the fields that the services reading the database require.

Suites are plain JSON in GX's suite format, written to ``expectations/<code>.json`` with
sorted keys so that a change in the catalog or the thresholds shows as a diff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integration_monitor.catalog.loader import project_root
from integration_monitor.catalog.models import Catalog
from integration_monitor.thresholds import DatabaseThresholds, Thresholds, check_against_catalog

SIGNATURE_PRESENT_COLUMN = "_signature_present"
SIGNATURE_VALID_COLUMN = "_signature_valid"
SIGNATURE_COLUMNS = (SIGNATURE_PRESENT_COLUMN, SIGNATURE_VALID_COLUMN)

EXPECT_COLUMN_TO_EXIST = "expect_column_to_exist"
EXPECT_NOT_NULL = "expect_column_values_to_not_be_null"
EXPECT_ROW_COUNT = "expect_table_row_count_to_be_between"

GENERATED_BY = "integration-monitor expectations generate"


@dataclass(frozen=True)
class SuiteDrift:
    """A suite file that differs from what the catalog and thresholds give."""

    path: Path
    problem: str  # "missing", "differs" or "not in the catalog"


def default_expectations_dir() -> Path:
    return project_root() / "expectations"


def suite_name(database_code: str) -> str:
    return f"presence.{database_code}"


def suite_path(directory: Path, database_code: str) -> Path:
    return directory / f"{database_code}.json"


def checked_fields(catalog: Catalog, database_code: str) -> list[str]:
    """Return the fields that any service reading the database requires, sorted by code."""
    return sorted({
        code
        for service in catalog.services_reading(database_code)
        for entry in service.databases
        if entry.database == database_code
        for code in entry.required_fields
    })


def build_suite(catalog: Catalog, database_code: str, thresholds: DatabaseThresholds) -> dict[str, Any]:
    """Return the GX suite of one national database as JSON-ready data."""
    database = catalog.database(database_code)
    fields = checked_fields(catalog, database_code)
    expectations: list[dict[str, Any]] = [
        _expectation(EXPECT_ROW_COUNT, {"min_value": thresholds.min_records}, check="row_count"),
    ]

    for code in fields:
        label = database.field(code).label
        expectations.append(_expectation(EXPECT_COLUMN_TO_EXIST, {"column": code}, check="field_exists", label=label))
        expectations.append(
            _expectation(
                EXPECT_NOT_NULL, {"column": code, "mostly": thresholds.field(code)}, check="completeness", label=label
            )
        )

    if database.signed:
        expectations.append(_expectation(
            EXPECT_NOT_NULL, {"column": SIGNATURE_PRESENT_COLUMN, "mostly": thresholds.signature_present},
            check="signature_present",
        ))
        expectations.append(_expectation(
            EXPECT_NOT_NULL, {"column": SIGNATURE_VALID_COLUMN, "mostly": thresholds.signature_valid},
            check="signature_valid",
        ))

    return {
        "name": suite_name(database_code),
        "expectations": expectations,
        "meta": {
            "database": database_code,
            "database_name": database.name,
            "signed": database.signed,
            "services": [service.number for service in catalog.services_reading(database_code)],
            "checked_field_count": len(fields),
            "generated_by": GENERATED_BY,
        },
        "notes": (
            "Runs on the presence table of a batch: one column per checked field, 1 where the record "
            "fills the field and null where it is missing. Generated from the catalog and the thresholds "
            "file; do not edit by hand."
        ),
    }


def build_suites(catalog: Catalog, thresholds: Thresholds) -> dict[str, dict[str, Any]]:
    """Return every database's suite, keyed by database code; raise ThresholdsError on stale overrides."""
    check_against_catalog(thresholds, catalog)
    return {
        database.code: build_suite(catalog, database.code, thresholds.database(database.code))
        for database in catalog.databases
    }


def suite_json(suite: dict[str, Any]) -> str:
    return json.dumps(suite, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_suites(suites: dict[str, dict[str, Any]], directory: Path) -> tuple[list[Path], list[Path]]:
    """Write the suites that changed and delete suite files of databases no longer in the catalog.

    Returns the written and the deleted paths.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for code, suite in sorted(suites.items()):
        path = suite_path(directory, code)
        text = suite_json(suite)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)

    deleted = [path for path in sorted(directory.glob("*.json")) if path.stem not in suites]
    for path in deleted:
        path.unlink()
    return written, deleted


def find_drift(suites: dict[str, dict[str, Any]], directory: Path) -> list[SuiteDrift]:
    """Compare the suite files in ``directory`` with freshly built suites."""
    drift: list[SuiteDrift] = []
    for code, suite in sorted(suites.items()):
        path = suite_path(directory, code)
        if not path.is_file():
            drift.append(SuiteDrift(path, "missing"))
        elif path.read_text(encoding="utf-8") != suite_json(suite):
            drift.append(SuiteDrift(path, "differs"))
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        if path.stem not in suites:
            drift.append(SuiteDrift(path, "not in the catalog"))
    return drift


def load_suite(database_code: str, directory: Path | None = None) -> dict[str, Any]:
    """Read the committed suite of one national database."""
    path = suite_path(directory or default_expectations_dir(), database_code)
    return json.loads(path.read_text(encoding="utf-8"))


def suite_fields(suite: dict[str, Any]) -> list[str]:
    """Return the field columns that a suite checks for completeness, signature columns excluded."""
    return [
        expectation["kwargs"]["column"]
        for expectation in suite["expectations"]
        if expectation["type"] == EXPECT_NOT_NULL and expectation["kwargs"]["column"] not in SIGNATURE_COLUMNS
    ]


def suite_checks_signatures(suite: dict[str, Any]) -> bool:
    return any(
        expectation["kwargs"].get("column") in SIGNATURE_COLUMNS for expectation in suite["expectations"]
    )


def _expectation(kind: str, kwargs: dict[str, Any], *, check: str, label: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"check": check}
    if label is not None:
        meta["label"] = label
    return {"type": kind, "kwargs": kwargs, "meta": meta}
