"""Completeness of a batch of records: which checked fields each record fills.

``presence_frame`` reduces records to booleans (present or missing per record and field), so
no value leaves this module. A value is missing when:

- its key is absent, or it is ``None``, NaN, ``pd.NA`` or ``NaT``;
- it is text that is empty or only whitespace as ``str.isspace`` defines it, which includes
  the non-breaking space;
- it is a filler token such as "N/A" or "không có", in any letter case and with any
  surrounding whitespace;
- it is an empty list, tuple, set or mapping.

Keys are compared after Unicode NFC normalisation, so a decomposed "Họ tên" key matches the
composed field code.

pandas is imported inside the functions: the module is imported by Airflow tasks at run
time and must cost nothing when a DAG file is parsed.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# Placeholders that sources write instead of leaving a field empty.
# NOTE: "NA" is also the ISO 3166-1 code of Namibia, so a nationality field holding it counts
# as missing.
FILLER_TOKENS = ("N/A", "NA", "-", "--", "null", "none", "không có", "chưa có", "0000-00-00")

# Kinds reported by pandas.api.types.infer_dtype(skipna=True) whose non-null values are
# always present: numbers, booleans and dates cannot be blank or a filler token.
_SCALAR_KINDS = frozenset({
    "integer", "floating", "mixed-integer-float", "decimal", "complex", "boolean",
    "datetime64", "datetime", "date", "timedelta64", "timedelta", "time", "period", "interval",
})

_CONTAINER_TYPES = (list, tuple, dict, set, frozenset)


@dataclass(frozen=True)
class FieldFigure:
    """Completeness of one field over a batch."""

    completeness: float  # share of records where the field is present, 0.0 for an empty batch
    missing_count: int
    record_count: int


CompletenessFigures = dict[str, FieldFigure]


def normalise_key(key: str) -> str:
    return unicodedata.normalize("NFC", key)


def columns_seen(records: Sequence[Mapping[str, Any]]) -> set[str]:
    """Return every key (NFC-normalised) that at least one record carries."""
    raw_keys = set().union(*records) if records else set()
    return {normalise_key(key) for key in raw_keys if isinstance(key, str)}


def is_missing(value: Any) -> bool:
    """Return True when one value counts as missing (see the module docstring)."""
    if value is None:
        return True
    if isinstance(value, str):
        return _is_blank_text(value)
    if isinstance(value, _CONTAINER_TYPES):
        return len(value) == 0

    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def presence_frame(records: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> pd.DataFrame:
    """Return one boolean column per field: True where the record fills the field.

    Columns follow the order of ``fields`` (NFC-normalised) and rows follow ``records``. A
    field that no record carries gives a column of False.
    """
    import numpy as np
    import pandas as pd

    records = _as_dicts(records)
    wanted = [normalise_key(code) for code in fields]
    duplicated = sorted({code for code in wanted if wanted.count(code) > 1})
    if duplicated:
        raise ValueError(f"duplicate field codes after NFC normalisation: {', '.join(duplicated)}")

    raw_keys_by_field = _raw_keys_by_field(records, wanted)
    raw_keys = [key for keys in raw_keys_by_field.values() for key in keys]
    values = pd.DataFrame(records, columns=raw_keys, dtype=object)

    columns: dict[str, np.ndarray] = {}
    for code in wanted:
        present = np.zeros(len(records), dtype=bool)
        for key in raw_keys_by_field[code]:
            present |= ~_missing_mask(values[key].to_numpy())
        columns[code] = present
    return pd.DataFrame(columns, index=pd.RangeIndex(len(records)), columns=wanted)


def completeness_figures(presence: pd.DataFrame) -> CompletenessFigures:
    """Return each column's completeness ratio and missing count (0.0 and 0 for an empty batch)."""
    not_boolean = [str(code) for code, dtype in presence.dtypes.items() if dtype != bool]
    if not_boolean:
        raise ValueError(f"presence columns must be boolean, got another type in: {', '.join(not_boolean)}")

    record_count = len(presence)
    present_counts = presence.sum(axis=0)
    figures: CompletenessFigures = {}
    for code, present in present_counts.items():
        present = int(present)
        figures[str(code)] = FieldFigure(
            completeness=present / record_count if record_count else 0.0,
            missing_count=record_count - present,
            record_count=record_count,
        )
    return figures


def _as_dicts(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if type(record) is dict:
            converted.append(record)
        elif isinstance(record, Mapping):
            converted.append(dict(record))
        else:
            raise TypeError(f"record {index} is a {type(record).__name__}, expected a mapping")
    return converted


def _raw_keys_by_field(records: list[dict[str, Any]], wanted: list[str]) -> dict[str, list[str]]:
    """Map each field code to the keys spelling it in the records, composed or decomposed."""
    by_field: dict[str, list[str]] = {code: [] for code in wanted}
    raw_keys = set().union(*records) if records else set()
    for key in sorted(key for key in raw_keys if isinstance(key, str)):
        code = normalise_key(key)
        if code in by_field:
            by_field[code].append(key)
    return by_field


def _missing_mask(values: np.ndarray) -> np.ndarray:
    """Return a boolean array marking the missing entries of one column of raw values."""
    import numpy as np
    import pandas as pd

    missing = np.asarray(pd.isna(values), dtype=bool)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "empty" or kind in _SCALAR_KINDS:
        return missing

    filled = np.flatnonzero(~missing)
    if kind == "string":
        missing[filled] = _blank_texts(values[filled])
        return missing

    # Mixed types, as when a source writes "N/A" into a numeric field. Only text and
    # containers can be blank, because numbers, booleans and dates never are.
    candidates = values[filled]
    kinds = pd.Series(_type_ufunc()(candidates), dtype=object)
    is_text = kinds.isin((str, np.str_)).to_numpy()  # exact types: a hash lookup per value
    missing[filled[is_text]] = _blank_texts(candidates[is_text])
    containers = filled[kinds.isin(_CONTAINER_TYPES).to_numpy()]
    missing[containers] = [len(value) == 0 for value in values[containers]]
    return missing


def _blank_texts(texts: np.ndarray) -> np.ndarray:
    """Mark the texts that are empty, whitespace or a filler token once stripped."""
    import pandas as pd

    if len(texts) == 0:
        return texts.astype(bool)
    stripped = _strip_ufunc()(texts)
    return pd.Series(stripped, dtype=object).isin(_blank_text_forms()).to_numpy()


@lru_cache(maxsize=1)
def _type_ufunc() -> Any:
    import numpy as np

    return np.frompyfunc(type, 1, 1)


@lru_cache(maxsize=1)
def _strip_ufunc() -> Any:
    import numpy as np

    # str.strip returns the same object when nothing is stripped, so this allocates little.
    return np.frompyfunc(str.strip, 1, 1)


def _is_blank_text(text: str) -> bool:
    return text.strip() in _blank_text_forms()


@lru_cache(maxsize=1)
def _blank_text_forms() -> frozenset[str]:
    """Return the empty string and every spelling of each filler token in any letter case,
    composed (NFC) or decomposed (NFD), so that a hash lookup replaces per-value casefolding."""
    forms = {""}
    for token in FILLER_TOKENS:
        letters = [sorted({char.lower(), char.upper()}) for char in unicodedata.normalize("NFC", token)]
        for spelling in itertools.product(*letters):
            text = "".join(spelling)
            forms.add(text)
            forms.add(unicodedata.normalize("NFD", text))
    return frozenset(forms)
