"""Run a database's Great Expectations suite over the presence table of one batch.

The frame that GX sees holds no record values: one column per checked field with 1 where the
record fills the field and null where it is missing, plus the signature columns. The outcome
keeps only counts, ratios and booleans, and :func:`assert_no_values` rejects a GX result that
carries unexpected values, so that a change of result format cannot start leaking data.

Great Expectations is imported inside :func:`validate_presence` only: the import takes
several seconds and must not happen when a DAG file is parsed.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from integration_monitor.validation.suites import (
    EXPECT_COLUMN_TO_EXIST,
    EXPECT_NOT_NULL,
    EXPECT_ROW_COUNT,
    SIGNATURE_COLUMNS,
    SIGNATURE_PRESENT_COLUMN,
    SIGNATURE_VALID_COLUMN,
    suite_checks_signatures,
)

if TYPE_CHECKING:
    import pandas as pd

    from integration_monitor.completeness import FieldFigure

log = logging.getLogger(__name__)

RESULT_FORMATS = ("BASIC", "BOOLEAN_ONLY")

# Keys of a GX result that hold record values (or row indexes) in the SUMMARY and COMPLETE
# result formats. Any key whose name contains "unexpected" is checked as well.
_VALUE_KEYS = frozenset({"observed_value", "details", "partial_unexpected_counts", "unexpected_rows"})


class SuiteLoadError(ValueError):
    """GX could not load every expectation of a suite."""


class ValuesInResultError(RuntimeError):
    """A GX result carries record values or row indexes, which must never leave the validate task."""


@dataclass(frozen=True)
class FieldOutcome:
    completeness: float  # share of records that fill the field
    missing_count: int
    threshold: float
    passed: bool


@dataclass(frozen=True)
class SignatureOutcome:
    ratio: float  # share of all records
    threshold: float
    passed: bool


@dataclass(frozen=True)
class ValidationOutcome:
    """What the validate task hands on: counts, ratios and booleans only."""

    suite_name: str
    success: bool
    record_count: int
    min_records: int
    row_count_passed: bool
    fields: dict[str, FieldOutcome]
    signature_present: SignatureOutcome | None  # None for a database whose records are not signed
    signature_valid: SignatureOutcome | None
    evaluated: int  # expectations evaluated, as GX counts them
    failed: int  # expectations that did not succeed, as GX counts them
    gx_version: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationOutcome:
        values = dict(data)
        values["fields"] = {code: FieldOutcome(**item) for code, item in values["fields"].items()}
        for key in ("signature_present", "signature_valid"):
            if values.get(key) is not None:
                values[key] = SignatureOutcome(**values[key])
        return cls(**values)


@dataclass(frozen=True)
class _Check:
    """One expectation of the suite, located by kind and column."""

    kind: str
    column: str | None
    threshold: float | None  # `mostly` of a not-null check, `min_value` of the row-count check


def validate_presence(
    presence: pd.DataFrame,
    signature_present: Sequence[bool],
    signature_valid: Sequence[bool],
    suite: Mapping[str, Any],
    result_format: str = "BASIC",
) -> ValidationOutcome:
    """Run ``suite`` over a presence table (see ``completeness.presence_frame``) and return the outcome.

    ``signature_present`` and ``signature_valid`` give one boolean per record. They may be
    empty for a database whose suite checks no signatures. With ``BOOLEAN_ONLY`` GX returns no
    counts, so completeness is counted from the presence table instead.

    With zero records every field and signature check fails, whatever GX reports for an
    empty column, because an empty batch shows nothing about completeness.
    """
    from integration_monitor.completeness import completeness_figures

    if result_format not in RESULT_FORMATS:
        raise ValueError(f"unsupported result format '{result_format}', expected one of {', '.join(RESULT_FORMATS)}")
    counted = completeness_figures(presence)  # also rejects a presence table that is not boolean
    checks_signatures = suite_checks_signatures(dict(suite))
    _check_signature_lengths(len(presence), signature_present, signature_valid, checks_signatures)

    started = time.perf_counter()
    frame = _gx_frame(presence, signature_present, signature_valid, checks_signatures)
    result, gx_version = _run_gx(frame, suite, result_format)
    assert_no_values(result)

    outcome = _outcome(suite, result, gx_version, counted, len(presence), signature_present, signature_valid)
    log.info(
        "Validated %s: %d records, %d of %d expectations failed, %d fields below threshold, %.2f s (GX %s)",
        outcome.suite_name, outcome.record_count, outcome.failed, outcome.evaluated,
        sum(1 for item in outcome.fields.values() if not item.passed), time.perf_counter() - started, gx_version,
    )
    return outcome


def assert_no_values(result: Mapping[str, Any]) -> None:
    """Raise ValuesInResultError when a GX result dict carries record values or row indexes.

    Counts, percentages and booleans are allowed. A non-empty list, mapping or text is not
    allowed under a key named like ``unexpected_list``, ``partial_unexpected_index_list``,
    ``observed_value`` or ``details``.
    """
    for path, value in _walk(result, "result"):
        key = path.rsplit(".", 1)[-1].split("[", 1)[0]
        if "unexpected" not in key and key not in _VALUE_KEYS:
            continue
        if value is None or isinstance(value, bool | int | float):
            continue
        if isinstance(value, list | tuple | dict | str) and len(value) == 0:
            continue
        raise ValuesInResultError(f"GX result carries values at {path} ({type(value).__name__})")


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}"
            yield child, item
            yield from _walk(item, child)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _check_signature_lengths(
    record_count: int, present: Sequence[bool], valid: Sequence[bool], required: bool
) -> None:
    for name, values in (("signature_present", present), ("signature_valid", valid)):
        if len(values) == record_count or (len(values) == 0 and (not required or record_count == 0)):
            continue
        raise ValueError(f"{name} has {len(values)} values for {record_count} records")


def _gx_frame(
    presence: pd.DataFrame, signature_present: Sequence[bool], signature_valid: Sequence[bool], with_signatures: bool
) -> pd.DataFrame:
    """Return the frame GX checks: 1.0 where present, NaN (null) where missing."""
    import numpy as np
    import pandas as pd

    # float32 halves the memory of float64, and 1.0 and NaN are exact in both.
    values = np.where(presence.to_numpy(dtype=bool), np.float32(1.0), np.float32(np.nan))
    frame = pd.DataFrame(values, columns=[str(code) for code in presence.columns], dtype="float32")
    if with_signatures:
        for column, flags in ((SIGNATURE_PRESENT_COLUMN, signature_present), (SIGNATURE_VALID_COLUMN, signature_valid)):
            frame[column] = np.where(np.asarray(flags, dtype=bool), np.float32(1.0), np.float32(np.nan))
    return frame


def _run_gx(frame: pd.DataFrame, suite: Mapping[str, Any], result_format: str) -> tuple[dict[str, Any], str]:
    # GX logs its start-up at INFO and its modules raise DeprecationWarnings on import. Neither
    # helps an operator reading a task log.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        ),
    )
    loaded = _load_suite(gx, suite)
    batch = (
        context.data_sources.add_pandas("presence")
        .add_dataframe_asset("presence_table")
        .add_batch_definition_whole_dataframe("whole_table")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    validation = batch.validate(loaded, result_format={"result_format": result_format, "exclude_unexpected_values": True})
    return validation.to_json_dict(), gx.__version__


def _load_suite(gx: Any, suite: Mapping[str, Any]) -> Any:
    """Build the GX suite and check that GX kept every expectation: it logs and drops unknown ones."""
    expected = [dict(item) for item in suite["expectations"]]
    with _gx_log_level(logging.CRITICAL):
        loaded = gx.ExpectationSuite(name=suite["name"], expectations=expected, meta=dict(suite.get("meta") or {}))
    if len(loaded.expectations) != len(expected):
        kept = {item.expectation_type for item in loaded.expectations}
        dropped = sorted({str(item.get("type")) for item in expected} - kept) or ["(invalid arguments)"]
        raise SuiteLoadError(
            f"suite {suite['name']}: GX loaded {len(loaded.expectations)} of {len(expected)} expectations; "
            f"rejected types: {', '.join(dropped)}"
        )
    return loaded


@contextlib.contextmanager
def _gx_log_level(level: int) -> Iterator[None]:
    logger = logging.getLogger("great_expectations")
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _outcome(
    suite: Mapping[str, Any],
    result: Mapping[str, Any],
    gx_version: str,
    counted: Mapping[str, FieldFigure],
    record_count: int,
    signature_present: Sequence[bool],
    signature_valid: Sequence[bool],
) -> ValidationOutcome:
    by_check = _results_by_check(result)
    _log_gx_exceptions(by_check)

    fields: dict[str, FieldOutcome] = {}
    signatures: dict[str, SignatureOutcome] = {}
    row_count_passed, min_records = True, 0
    for check in (_check_of(item) for item in suite["expectations"]):
        found = by_check.get((check.kind, check.column))
        succeeded = bool(found and found["success"])
        if check.kind == EXPECT_ROW_COUNT:
            row_count_passed, min_records = succeeded, int(check.threshold or 0)
        elif check.kind == EXPECT_NOT_NULL and check.column in SIGNATURE_COLUMNS:
            flags = signature_present if check.column == SIGNATURE_PRESENT_COLUMN else signature_valid
            observed = _observed_ratio(found)
            signatures[check.column] = SignatureOutcome(
                ratio=observed if observed is not None else _share(flags),
                threshold=float(check.threshold or 0.0),
                passed=succeeded and record_count > 0,
            )
        elif check.kind == EXPECT_NOT_NULL and check.column is not None:
            exists = by_check.get((EXPECT_COLUMN_TO_EXIST, check.column), {"success": True})["success"]
            fields[check.column] = _field_outcome(check, found, counted, record_count, bool(exists) and succeeded)

    statistics = result.get("statistics") or {}
    checks_passed = [row_count_passed] + [item.passed for item in (*fields.values(), *signatures.values())]
    return ValidationOutcome(
        suite_name=str(suite["name"]),
        success=bool(result.get("success")) and all(checks_passed),
        record_count=record_count,
        min_records=min_records,
        row_count_passed=row_count_passed,
        fields=fields,
        signature_present=signatures.get(SIGNATURE_PRESENT_COLUMN),
        signature_valid=signatures.get(SIGNATURE_VALID_COLUMN),
        evaluated=int(statistics.get("evaluated_expectations", 0)),
        failed=int(statistics.get("unsuccessful_expectations", 0)),
        gx_version=gx_version,
    )


def _log_gx_exceptions(by_check: Mapping[tuple[str, str | None], Mapping[str, Any]]) -> None:
    """Log the expectations GX could not evaluate in one line (a missing column is the usual cause)."""
    failures = [(kind, column, item["exception"]) for (kind, column), item in by_check.items() if item["exception"]]
    if not failures:
        return
    examples = "; ".join(f"{kind} on {column}: {message}" for kind, column, message in sorted(failures, key=str)[:3])
    log.warning("GX could not evaluate %d expectations, for example %s", len(failures), examples)


def _field_outcome(
    check: _Check,
    found: Mapping[str, Any] | None,
    counted: Mapping[str, FieldFigure],
    record_count: int,
    succeeded: bool,
) -> FieldOutcome:
    column = str(check.column)
    observed = _observed_ratio(found)
    if observed is not None and found is not None:
        completeness, missing_count = observed, int(found["result"].get("unexpected_count") or 0)
    elif column in counted:
        completeness, missing_count = counted[column].completeness, counted[column].missing_count
    else:
        # The presence table has no such column: every record misses the field.
        completeness, missing_count = 0.0, record_count
    return FieldOutcome(
        completeness=completeness,
        missing_count=missing_count,
        threshold=float(check.threshold if check.threshold is not None else 1.0),
        passed=succeeded and record_count > 0,
    )


def _check_of(expectation: Mapping[str, Any]) -> _Check:
    kind = str(expectation.get("type"))
    kwargs = expectation.get("kwargs") or {}
    if kind == EXPECT_ROW_COUNT:
        return _Check(kind=kind, column=None, threshold=kwargs.get("min_value"))
    # GX's default `mostly` is 1.0: every value must be present.
    return _Check(kind=kind, column=kwargs.get("column"), threshold=kwargs.get("mostly", 1.0))


def _results_by_check(result: Mapping[str, Any]) -> dict[tuple[str, str | None], dict[str, Any]]:
    """Index GX's results by expectation type and column; GX does not keep the suite's order."""
    indexed: dict[tuple[str, str | None], dict[str, Any]] = {}
    for item in result.get("results") or []:
        config = item.get("expectation_config") or {}
        key = (str(config.get("type")), (config.get("kwargs") or {}).get("column"))
        indexed[key] = {
            "kind": key[0],
            "success": bool(item.get("success")),
            "result": item.get("result") or {},
            "exception": _exception_message(item.get("exception_info") or {}),
        }
    return indexed


def _exception_message(info: Mapping[str, Any]) -> str | None:
    """Return GX's exception message; GX nests it under a metric id when a metric failed."""
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for nested in info.values():
        if isinstance(nested, Mapping) and nested.get("raised_exception"):
            return str(nested.get("exception_message"))
    return None


def _observed_ratio(found: Mapping[str, Any] | None) -> float | None:
    """Return the non-null share from GX's counts, or None when GX gave none (BOOLEAN_ONLY, errors)."""
    if not found or found["result"].get("element_count") is None:
        return None
    element_count = int(found["result"]["element_count"])
    if element_count == 0:
        return 0.0
    return 1.0 - int(found["result"].get("unexpected_count") or 0) / element_count


def _share(flags: Sequence[bool]) -> float:
    return sum(1 for flag in flags if flag) / len(flags) if len(flags) else 0.0
