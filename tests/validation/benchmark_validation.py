"""Time presence_frame and validate_presence on 100,000 records × 157 fields.

Run: ``.venv/bin/python tests/validation/benchmark_validation.py [records] [fields]``. Not
collected by pytest. Each step is compared with a plain pandas computation of the same
figures. The synthetic records mix text of 1 to 60 characters, dates, numbers and about 4 %
missing values (absent keys, None, "", whitespace and filler tokens).
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from integration_monitor.completeness import FILLER_TOKENS, completeness_figures, is_missing, presence_frame
from integration_monitor.validation.suites import EXPECT_COLUMN_TO_EXIST, EXPECT_NOT_NULL, EXPECT_ROW_COUNT

BLANKS = (None, "", "   ", "\u00a0", "N/A", "-", "không có")


def make_records(count: int, fields: list[str], seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    words = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Văn", "Thị", "An", "Bình", "Hà Nội", "Huế", "Đà Nẵng"]
    texts = [" ".join(rng.choices(words, k=rng.randint(1, 8))) for _ in range(2000)]
    records = []
    for index in range(count):
        record: dict[str, Any] = {}
        for position, code in enumerate(fields):
            draw = rng.random()
            if draw < 0.01:
                continue
            if draw < 0.04:
                record[code] = rng.choice(BLANKS)
            elif position % 7 == 0:
                record[code] = rng.randint(0, 10**9)
            elif position % 7 == 1:
                record[code] = f"20{rng.randint(0, 24):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            elif position % 7 == 2:
                record[code] = f"{index:012d}"
            else:
                record[code] = texts[(index * 31 + position) % len(texts)]
        records.append(record)
    return records


def timed(label: str, action: Callable[[], Any], repeat: int = 3) -> Any:
    """Run ``action`` and print its best wall-clock and CPU time (CPU time varies less on a busy machine)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        value = action()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(f"{label:<52} wall {min(walls):6.3f} s   cpu {min(cpus):6.3f} s   first run wall {walls[0]:6.3f} s")
    return value


def plain_pandas_presence(records: list[dict[str, Any]], fields: list[str]) -> pd.DataFrame:
    """The same rules written the plain pandas way: isna, then str.strip/casefold/isin on text."""
    tokens = {""} | {token.casefold() for token in FILLER_TOKENS}
    frame = pd.DataFrame(records, columns=fields, dtype=object)
    texts = frame.where(frame.map(lambda value: isinstance(value, str)))
    blank = texts.apply(lambda column: column.str.strip().str.casefold().isin(tokens))
    return ~(frame.isna() | blank)


def suite_for(fields: list[str]) -> dict[str, Any]:
    expectations: list[dict[str, Any]] = [{"type": EXPECT_ROW_COUNT, "kwargs": {"min_value": 1}}]
    for code in fields:
        expectations.append({"type": EXPECT_COLUMN_TO_EXIST, "kwargs": {"column": code}})
        expectations.append({"type": EXPECT_NOT_NULL, "kwargs": {"column": code, "mostly": 0.95}})
    for column in ("_signature_present", "_signature_valid"):
        expectations.append({"type": EXPECT_NOT_NULL, "kwargs": {"column": column, "mostly": 0.99}})
    return {"name": "presence.benchmark", "expectations": expectations}


def main(count: int, field_count: int) -> None:
    from integration_monitor.validation.run import validate_presence

    fields = [f"FIELD_{position:03d}" for position in range(field_count)]
    started = time.perf_counter()
    records = make_records(count, fields)
    print(f"{count} records x {field_count} fields generated in {time.perf_counter() - started:.1f} s, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    presence = timed("presence_frame", lambda: presence_frame(records, fields))
    plain = timed("plain pandas (isna + str.strip/casefold/isin)", lambda: plain_pandas_presence(records, fields), 1)
    sample = [record.get(fields[3]) for record in records[:2000]]
    assert presence[fields[3]].tolist()[:2000] == [not is_missing(value) for value in sample]
    assert presence.equals(plain), "plain pandas and presence_frame disagree"

    timed("completeness_figures", lambda: completeness_figures(presence))
    timed("plain pandas presence.mean()", lambda: presence.mean())

    rng = np.random.default_rng(3)
    signed = (rng.random(count) > 0.003).tolist()
    suite = suite_for(fields)
    timed("validate_presence BASIC (first run imports GX)", lambda: validate_presence(presence, signed, signed, suite))
    timed("validate_presence BOOLEAN_ONLY",
          lambda: validate_presence(presence, signed, signed, suite, result_format="BOOLEAN_ONLY"))
    timed("plain pandas: mean per column and signatures",
          lambda: (presence.mean(), np.mean(signed), presence.sum()))


if __name__ == "__main__":
    arguments = [int(value) for value in sys.argv[1:3]]
    main(*(arguments + [100_000, 157][len(arguments):]))
