"""presence_frame marks each value present or missing, and completeness_figures counts them."""

from __future__ import annotations

import math
import unicodedata

import numpy as np
import pandas as pd
import pytest

from integration_monitor.completeness import (
    FILLER_TOKENS,
    FieldFigure,
    columns_seen,
    completeness_figures,
    is_missing,
    presence_frame,
)

NBSP = "\u00a0"


def presence_of(values: list[object]) -> list[bool]:
    """Return presence_frame's verdict for each value, one record per value."""
    frame = presence_frame([{"F": value} for value in values], ["F"])
    return frame["F"].tolist()


def test_plain_values_are_present():
    values = ["Nguyễn Văn An", "0", 0, 0.0, False, True, "2024-01-31", ["x"], {"a": 1}, "NAM", "N/A x"]
    assert presence_of(values) == [True] * len(values)


def test_empty_and_whitespace_text_is_missing():
    values = ["", " ", "   ", "\t\n", NBSP, f" {NBSP} ", "\u3000", "\u2003"]
    assert presence_of(values) == [False] * len(values)


def test_null_values_are_missing():
    values = [None, float("nan"), np.nan, pd.NA, pd.NaT]
    assert presence_of(values) == [False] * len(values)


@pytest.mark.parametrize("token", FILLER_TOKENS)
def test_filler_tokens_are_missing_in_any_case(token):
    spellings = [token, token.upper(), token.lower(), token.title(), f"  {token} ", f"{NBSP}{token}{NBSP}"]
    assert presence_of(spellings) == [False] * len(spellings)


def test_decomposed_filler_token_is_missing():
    decomposed = unicodedata.normalize("NFD", "Không có")
    assert decomposed != "Không có"
    assert presence_of([decomposed, unicodedata.normalize("NFD", "CHƯA CÓ")]) == [False, False]


def test_text_containing_a_token_is_present():
    assert presence_of(["NAM", "N/A/1", "không có gì", "-1", "0000-00-01", "nonexistent"]) == [True] * 6


def test_empty_containers_are_missing():
    assert presence_of([[], {}, (), set()]) == [False, False, False, False]


def test_mixed_column_uses_same_rules():
    values = ["x", 1, None, "", [], {"k": "v"}, " n/a ", 2.5, float("nan"), "y", pd.NA, NBSP]
    assert presence_of(values) == [True, True, False, False, False, True, False, True, False, True, False, False]


def test_vectorised_path_matches_is_missing():
    texts = ["a", "", " ", "NA", "na ", "Không Có", "--", "-", "x" * 40, f"{NBSP}N/A", "0000-00-00", "b"]
    expected = [not is_missing(text) for text in texts]
    assert presence_of(texts) == expected
    assert presence_of(texts + [None]) == expected + [False]
    assert presence_of(texts + [7]) == expected + [True]


def test_key_absent_is_missing():
    frame = presence_frame([{"A": "x"}, {"B": "y"}, {}], ["A", "B"])
    assert frame["A"].tolist() == [True, False, False]
    assert frame["B"].tolist() == [False, True, False]


def test_column_missing_entirely_is_all_false():
    frame = presence_frame([{"A": "x"}, {"A": "y"}], ["A", "MISSING_FIELD"])
    assert list(frame.columns) == ["A", "MISSING_FIELD"]
    assert frame["MISSING_FIELD"].tolist() == [False, False]
    assert frame["MISSING_FIELD"].dtype == bool


def test_pandas3_str_column_nulls_are_missing():
    column = pd.Series(["Hà Nội", None, "  ", "N/A", "Huế"], dtype="str")
    assert str(column.dtype) == "str"
    records = pd.DataFrame({"DIA_CHI": column}).to_dict("records")
    assert math.isnan(records[1]["DIA_CHI"])
    assert presence_frame(records, ["DIA_CHI"])["DIA_CHI"].tolist() == [True, False, False, False, True]


def test_pandas_string_dtype_na_is_missing():
    column = pd.Series(["Hà Nội", None, pd.NA, ""], dtype="string")
    records = [{"DIA_CHI": value} for value in column]
    assert records[1]["DIA_CHI"] is pd.NA
    assert presence_frame(records, ["DIA_CHI"])["DIA_CHI"].tolist() == [True, False, False, False]


def test_decomposed_key_matches_composed_field():
    composed = unicodedata.normalize("NFC", "Họ tên")
    decomposed = unicodedata.normalize("NFD", "Họ tên")
    assert composed != decomposed

    records = [{decomposed: "Lê Thị Hoa"}, {composed: "Trần Văn Bình"}, {decomposed: ""}]
    frame = presence_frame(records, [composed])
    assert list(frame.columns) == [composed]
    assert frame[composed].tolist() == [True, True, False]
    assert columns_seen(records) == {composed}


def test_decomposed_field_code_is_normalised():
    decomposed = unicodedata.normalize("NFD", "Họ tên")
    frame = presence_frame([{"Họ tên": "x"}], [decomposed])
    assert list(frame.columns) == [unicodedata.normalize("NFC", decomposed)]
    assert frame.iloc[0, 0]


def test_both_key_spellings_in_one_record():
    decomposed = unicodedata.normalize("NFD", "Họ tên")
    records = [{decomposed: "", "Họ tên": "x"}, {decomposed: None, "Họ tên": " "}]
    assert presence_frame(records, ["Họ tên"])["Họ tên"].tolist() == [True, False]


def test_duplicate_field_codes_rejected():
    with pytest.raises(ValueError, match="duplicate field codes"):
        presence_frame([{"Họ tên": "x"}], ["Họ tên", unicodedata.normalize("NFD", "Họ tên")])


def test_non_mapping_record_rejected():
    with pytest.raises(TypeError, match="record 1 is a list"):
        presence_frame([{"A": 1}, ["A", 1]], ["A"])


def test_zero_records():
    frame = presence_frame([], ["A", "B"])
    assert list(frame.columns) == ["A", "B"]
    assert len(frame) == 0
    assert columns_seen([]) == set()

    figures = completeness_figures(frame)
    assert figures == {
        "A": FieldFigure(completeness=0.0, missing_count=0, record_count=0),
        "B": FieldFigure(completeness=0.0, missing_count=0, record_count=0),
    }


def test_completeness_figures_counts():
    records = [{"A": "x", "B": ""}, {"A": "y"}, {"A": None, "B": "z"}, {"A": "w", "B": "N/A"}]
    figures = completeness_figures(presence_frame(records, ["A", "B", "C"]))
    assert figures["A"] == FieldFigure(completeness=0.75, missing_count=1, record_count=4)
    assert figures["B"] == FieldFigure(completeness=0.25, missing_count=3, record_count=4)
    assert figures["C"] == FieldFigure(completeness=0.0, missing_count=4, record_count=4)


def test_completeness_figures_rejects_non_boolean():
    with pytest.raises(ValueError, match="must be boolean.*B"):
        completeness_figures(pd.DataFrame({"A": [True], "B": [1.0]}))


def test_columns_seen_ignores_values():
    records = [{"A": None, "B": ""}, {"C": "x"}, {}]
    assert columns_seen(records) == {"A", "B", "C"}


def test_rows_follow_record_order():
    records = [{"A": str(index) if index % 3 else ""} for index in range(10)]
    assert presence_frame(records, ["A"])["A"].tolist() == [index % 3 != 0 for index in range(10)]
