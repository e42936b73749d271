"""Validation cost: the project's GX path against plain pandas on 100,000 health records.

The batch has the 157 fields that service 1 requires from ``kham_chua_benh``, the widest
requirement of the catalog. Records come from the GX engineer's generator
(``tests/validation/benchmark_validation.py``): text, dates and numbers with about 4 % of
values missing as absent keys, None, "", whitespace, a non-breaking space or a filler token.

Measured, alternating the two sides in each repetition:

- the GX path, as the fetch and validate tasks run it: ``presence_frame`` (records to
  presence bits) then ``validate_presence`` with the database's suite cut to those fields;
- plain pandas: a DataFrame of the records, ``isna`` plus ``str.strip().str.casefold()``
  against the filler tokens per column, then the mean and the missing count per column.

Both must give the same completeness and missing count for every field. Peak memory of the
GX path is measured in a separate pass with tracemalloc, against the memory that the batch
itself holds (see ``batch_size_mib``); the XCom hand-off between the two tasks (packing the
bits in fetch, unpacking them in validate) is timed on its own.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import tracemalloc
from typing import Any

from common import PROJECT_ROOT, Result, argument_parser, finish, ratio

sys.path.insert(0, str(PROJECT_ROOT))

RECORDS = 100_000
DATABASE = "kham_chua_benh"
SERVICE = 1


def service_fields(catalog: Any) -> list[str]:
    entry = next(item for item in catalog.service(SERVICE).databases if item.database == DATABASE)
    return list(entry.required_fields)


def suite_for_fields(catalog: Any, fields: list[str]) -> dict[str, Any]:
    """Return the database's generated suite, keeping the row count, signatures and ``fields``."""
    from integration_monitor.thresholds import load_thresholds
    from integration_monitor.validation.suites import build_suites

    suite = build_suites(catalog, load_thresholds())[DATABASE]
    wanted = set(fields) | {"_signature_present", "_signature_valid"}
    kept = [item for item in suite["expectations"] if item["kwargs"].get("column") in wanted | {None}]
    return {**suite, "expectations": kept}


def plain_pandas_figures(records: list[dict[str, Any]], fields: list[str]) -> dict[str, tuple[float, int]]:
    """Return (completeness, missing count) per field, computed the plain pandas way."""
    import pandas as pd

    from integration_monitor.completeness import FILLER_TOKENS

    blank = {""} | {token.casefold() for token in FILLER_TOKENS}
    frame = pd.DataFrame(records, columns=fields)
    figures = {}
    for code in fields:
        column = frame[code]
        missing = column.isna()
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column)):
            missing |= column.str.strip().str.casefold().isin(blank).fillna(False).astype(bool)
        missing_count = int(missing.sum())
        figures[code] = (1 - missing_count / len(column), missing_count)
    return figures


def gx_path(records: list[dict[str, Any]], fields: list[str], suite: dict[str, Any], signed: list[bool],
            split: list[tuple[float, float]] | None = None) -> Any:
    """Run the GX path; with ``split``, append the seconds of its two steps to it."""
    from integration_monitor.completeness import presence_frame
    from integration_monitor.validation.run import validate_presence

    started = time.perf_counter()
    presence = presence_frame(records, fields)
    middle = time.perf_counter()
    outcome = validate_presence(presence, signed, signed, suite)
    if split is not None:
        split.append((middle - started, time.perf_counter() - middle))
    return outcome


def compare(outcome: Any, plain: dict[str, tuple[float, int]]) -> tuple[bool, float, int]:
    """Return whether every field agrees, the largest completeness difference and the fields that differ."""
    largest, differing = 0.0, 0
    for code, (completeness, missing) in plain.items():
        figure = outcome.fields[code]
        difference = abs(figure.completeness - completeness)
        largest = max(largest, difference)
        if figure.missing_count != missing or difference > 1e-12:
            differing += 1
    return differing == 0 and set(outcome.fields) == set(plain), largest, differing


def measure_hand_off(presence: Any) -> float:
    """Time the XCom hand-off: pack each column's bits (fetch task), unpack them (validate task)."""
    import pandas as pd

    from integration_monitor.pipeline.measurement import pack_bits, unpack_bits

    started = time.perf_counter()
    packed = {code: pack_bits([bool(value) for value in presence[code].tolist()]) for code in presence.columns}
    count = len(presence)
    pd.DataFrame({code: pd.Series(unpack_bits(bits, count), dtype=bool) for code, bits in packed.items()})
    return time.perf_counter() - started


def batch_size_mib(count: int, fields: list[str], sample: int = 10_000) -> float:
    """Return the MiB a batch of ``count`` records holds, from a sample built under tracemalloc.

    tracemalloc counts every allocation made through Python's and numpy's allocators, so the
    figures belong to the measured step alone. A resident-set delta would also count pages
    that the allocator keeps from earlier steps and imports, and the process's high-water mark
    cannot be reset between steps without a kernel interface. Tracing slows the generator
    about fourfold, so a sample is traced and scaled: records of the generator have the same
    shape: 10,000 traced records scale to 640 MiB, and a traced batch of 100,000 measured 638 MiB.
    """
    from tests.validation.benchmark_validation import make_records

    size = min(sample, count)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    records = make_records(size, fields)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del records
    return held / 2**20 * count / size


def traced_peak(records: list[dict[str, Any]], fields: list[str], suite: dict[str, Any], signed: list[bool]) -> float:
    """Return the MiB that the GX path allocates at its peak, beyond what existed before it."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    gx_path(records, fields, suite, signed)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak / 2**20


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=RECORDS, help="records in the batch (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=2, help="timed repetitions of each side (default: %(default)s)")
    args = parser.parse_args()
    count = 10_000 if args.quick else args.records

    import numpy as np

    from integration_monitor.catalog.loader import load_catalog

    result = Result("validation")
    catalog = load_catalog(PROJECT_ROOT / "include" / "appendix_data")
    fields = service_fields(catalog)
    suite = suite_for_fields(catalog, fields)
    signed = (np.random.default_rng(3).random(count) > 0.003).tolist()
    result.figure("records", count)
    result.figure("fields", len(fields))
    result.figure("expectations", len(suite["expectations"]))

    from tests.validation.benchmark_validation import make_records

    batch_mib = result.figure("batch_size_mib", batch_size_mib(count, fields))
    started = time.perf_counter()
    records = make_records(count, fields)
    result.figure("generate_records_s", time.perf_counter() - started)

    started = time.perf_counter()
    gx_path(records[:1000], fields, suite, signed[:1000])
    result.figure("first_validation_with_gx_import_s", time.perf_counter() - started)

    gx_times, plain_times, split = [], [], []
    outcome, plain = None, None
    for repetition in range(max(1, args.repeat)):
        sides = [("gx", gx_times), ("plain", plain_times)]
        for side, times in sides if repetition % 2 == 0 else reversed(sides):
            gc.collect()
            started = time.perf_counter()
            if side == "gx":
                outcome = gx_path(records, fields, suite, signed, split)
            else:
                plain = plain_pandas_figures(records, fields)
            times.append(time.perf_counter() - started)

    from integration_monitor.completeness import presence_frame

    result.figure("presence_frame_s", [round(first, 3) for first, _second in split])
    result.figure("validate_presence_s", [round(second, 3) for _first, second in split])
    presence = presence_frame(records, fields)
    result.figure("xcom_hand_off_s", measure_hand_off(presence))
    del presence

    assert outcome is not None and plain is not None
    identical, largest, differing = compare(outcome, plain)
    gx_median, plain_median = statistics.median(gx_times), statistics.median(plain_times)
    result.figure("gx_path_s", gx_times)
    result.figure("plain_pandas_s", plain_times)
    result.figure("figures_identical", identical)
    result.figure("largest_completeness_difference", largest)
    result.figure("fields_differing", differing)

    peak_mib = result.figure("gx_path_peak_mib", traced_peak(records, fields, suite, signed))
    memory = {"peak_mib": peak_mib, "batch_mib": batch_mib}

    result.target("GX path time / plain pandas time", ratio(gx_median, plain_median), 3,
                  note="figures identical" if identical else f"{differing} fields differ")
    result.target("GX path peak memory / batch size (tracemalloc)",
                  ratio(memory["peak_mib"], memory["batch_mib"]), 3)
    if not identical:
        result.notes.append("the GX path and plain pandas disagree; see fields_differing")
    return finish(result, args.result)


if __name__ == "__main__":
    sys.exit(main())
