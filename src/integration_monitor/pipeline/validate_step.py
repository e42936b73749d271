"""The validate task's work: run the database's Great Expectations suite on the presence bits."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

from integration_monitor.catalog.models import Catalog
from integration_monitor.pipeline.measurement import Measurement, unpack_bits

log = logging.getLogger(__name__)


def load_suite(database_code: str) -> dict[str, Any]:
    from integration_monitor.validation.suites import default_expectations_dir, suite_path

    path = suite_path(default_expectations_dir(), database_code)
    return json.loads(path.read_text(encoding="utf-8"))


def run_validate(catalog: Catalog, measurement: Measurement) -> dict[str, Any]:
    """Return per-field completeness, signature ratios and expectation counts; no record values."""
    import pandas as pd

    from integration_monitor.thresholds import thresholds_for
    from integration_monitor.validation.run import validate_presence

    count = measurement.record_count
    presence = pd.DataFrame(
        {code: pd.Series(measurement.presence(code), dtype=bool) for code in measurement.presence_bits},
        index=pd.RangeIndex(count),
    )
    signed = measurement.signature_present_bits is not None
    signature_present = unpack_bits(measurement.signature_present_bits, count) if signed else []
    signature_valid = unpack_bits(measurement.signature_valid_bits, count) if signed else []

    outcome = validate_presence(presence, signature_present, signature_valid, load_suite(measurement.database_code))

    limits = thresholds_for(measurement.database_code)
    fields = {code: asdict(figures) for code, figures in outcome.fields.items()}
    for code in measurement.checked_fields:
        # A field absent from every record fails its existence check; keep it visible per field.
        fields.setdefault(code, {"completeness": 0.0, "missing_count": count, "threshold": limits.field(code),
                                 "passed": False})
    duplicate_share = measurement.duplicate_count / count if count else 0.0
    return {
        "success": outcome.success,
        "duplicates": {"count": measurement.duplicate_count, "share": duplicate_share,
                       "threshold": limits.max_duplicate_share,
                       "passed": duplicate_share <= limits.max_duplicate_share},
        "evaluated": outcome.evaluated,
        "failed": outcome.failed,
        "row_count_passed": outcome.row_count_passed,
        "fields": {code: {key: fields[code][key] for key in ("completeness", "missing_count", "threshold", "passed")}
                   for code in measurement.checked_fields},
        "signature_present": asdict(outcome.signature_present) if outcome.signature_present else None,
        "signature_valid": asdict(outcome.signature_valid) if outcome.signature_valid else None,
        "gx_version": outcome.gx_version,
    }
