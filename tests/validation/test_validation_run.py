"""validate_presence runs the real GX suite over presence tables built from fixture records."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from integration_monitor.completeness import presence_frame
from integration_monitor.validation.run import (
    SuiteLoadError,
    ValidationOutcome,
    ValuesInResultError,
    assert_no_values,
    validate_presence,
)
from integration_monitor.validation.suites import build_suite, suite_fields
from tests.validation.conftest import DAN_CU_CHECKED

RECORDS = 100


@pytest.fixture()
def dan_cu_suite(small_catalog, default_thresholds) -> dict:
    return build_suite(small_catalog, "dan_cu", default_thresholds.database("dan_cu"))


@pytest.fixture()
def evn_suite(small_catalog, default_thresholds) -> dict:
    return build_suite(small_catalog, "khach_hang_evn", default_thresholds.database("khach_hang_evn"))


def citizens(count: int = RECORDS) -> list[dict]:
    return [
        {
            "SO_DINH_DANH": f"0010950{index:05d}",
            "HO_VA_TEN": f"Nguyễn Văn {index}",
            "NGAY_SINH": "1995-03-14",
            "GIOI_TINH": "1",
            "NOI_THUONG_TRU": "Phường Ba Đình, Hà Nội",
        }
        for index in range(count)
    ]


def validate(records: list[dict], suite: dict, present=None, valid=None, **options) -> ValidationOutcome:
    presence = presence_frame(records, suite_fields(suite))
    present = [True] * len(records) if present is None else present
    valid = [True] * len(records) if valid is None else valid
    return validate_presence(presence, present, valid, suite, **options)


def test_all_present_passes(dan_cu_suite):
    import great_expectations as gx

    outcome = validate(citizens(), dan_cu_suite)

    assert outcome.success
    assert outcome.row_count_passed
    assert outcome.record_count == RECORDS
    assert sorted(outcome.fields) == DAN_CU_CHECKED
    for code, item in outcome.fields.items():
        assert item.passed, code
        assert item.completeness == 1.0, code
        assert item.missing_count == 0, code
        assert item.threshold == 0.95, code
    assert outcome.signature_present is not None and outcome.signature_present.passed
    assert outcome.signature_valid is not None and outcome.signature_valid.ratio == 1.0
    assert outcome.evaluated == len(dan_cu_suite["expectations"])
    assert outcome.failed == 0
    assert outcome.gx_version == gx.__version__


def test_thirty_percent_missing_fails_that_field_only(dan_cu_suite):
    records = citizens()
    blanks = [None, "", "   ", "N/A", "không có"]
    for index in range(30):
        records[index * 3]["HO_VA_TEN"] = blanks[index % len(blanks)]

    outcome = validate(records, dan_cu_suite)

    assert not outcome.success
    name = outcome.fields["HO_VA_TEN"]
    assert not name.passed
    assert name.completeness == pytest.approx(0.70)
    assert name.missing_count == 30
    assert [code for code, item in outcome.fields.items() if not item.passed] == ["HO_VA_TEN"]
    assert outcome.row_count_passed
    assert outcome.failed == 1


def test_field_just_at_threshold_passes(dan_cu_suite):
    records = citizens()
    for index in range(5):
        del records[index]["NGAY_SINH"]
    outcome = validate(records, dan_cu_suite)
    assert outcome.fields["NGAY_SINH"].completeness == pytest.approx(0.95)
    assert outcome.fields["NGAY_SINH"].passed
    assert outcome.success


def test_signature_ratios_below_threshold_fail(dan_cu_suite):
    present = [index >= 2 for index in range(RECORDS)]
    valid = [index >= 5 for index in range(RECORDS)]

    outcome = validate(citizens(), dan_cu_suite, present=present, valid=valid)

    assert not outcome.success
    assert outcome.signature_present is not None
    assert outcome.signature_present.ratio == pytest.approx(0.98)
    assert outcome.signature_present.threshold == 0.99
    assert not outcome.signature_present.passed
    assert outcome.signature_valid is not None
    assert outcome.signature_valid.ratio == pytest.approx(0.95)
    assert not outcome.signature_valid.passed
    assert all(item.passed for item in outcome.fields.values())


def test_zero_rows_fails_row_count(dan_cu_suite):
    outcome = validate([], dan_cu_suite, present=[], valid=[])
    assert not outcome.success
    assert not outcome.row_count_passed
    assert outcome.record_count == 0
    assert outcome.min_records == 1
    for item in outcome.fields.values():
        assert item.completeness == 0.0
        assert item.missing_count == 0
        assert not item.passed


def test_unsigned_database_ignores_signatures(evn_suite):
    records = [{"MA_KHACH_HANG": f"PA0100001{index:04d}"} for index in range(20)]
    presence = presence_frame(records, suite_fields(evn_suite))
    outcome = validate_presence(presence, [], [], evn_suite)
    assert outcome.success
    assert outcome.signature_present is None
    assert outcome.signature_valid is None


def test_boolean_only_counts_from_presence(dan_cu_suite):
    records = citizens()
    for index in range(10):
        records[index]["GIOI_TINH"] = "-"
    outcome = validate(records, dan_cu_suite, result_format="BOOLEAN_ONLY")
    assert outcome.fields["GIOI_TINH"].completeness == pytest.approx(0.90)
    assert outcome.fields["GIOI_TINH"].missing_count == 10
    assert not outcome.fields["GIOI_TINH"].passed
    assert outcome.signature_present is not None and outcome.signature_present.ratio == 1.0


def test_column_absent_from_presence_table(dan_cu_suite):
    presence = presence_frame(citizens(), suite_fields(dan_cu_suite)).drop(columns=["NGAY_SINH"])
    outcome = validate_presence(presence, [True] * RECORDS, [True] * RECORDS, dan_cu_suite)
    assert not outcome.fields["NGAY_SINH"].passed
    assert outcome.fields["NGAY_SINH"].completeness == 0.0
    assert outcome.fields["NGAY_SINH"].missing_count == RECORDS
    assert outcome.fields["HO_VA_TEN"].passed


def test_outcome_holds_only_counts_ratios_and_booleans(dan_cu_suite):
    data = validate(citizens(), dan_cu_suite).as_dict()
    json.dumps(data)

    def leaves(value, path=""):
        if isinstance(value, dict):
            for key, item in value.items():
                yield from leaves(item, f"{path}.{key}")
        else:
            yield path, value

    for path, value in leaves(data):
        if path in (".suite_name", ".gx_version"):
            assert isinstance(value, str)
        else:
            assert value is None or isinstance(value, bool | int | float), path


def test_outcome_round_trips_through_dict(dan_cu_suite):
    outcome = validate(citizens(), dan_cu_suite)
    assert ValidationOutcome.from_dict(json.loads(json.dumps(outcome.as_dict()))) == outcome


def test_unknown_expectation_type_rejected(dan_cu_suite):
    suite = dict(dan_cu_suite)
    suite["expectations"] = [*dan_cu_suite["expectations"], {"type": "expect_column_to_be_complete", "kwargs": {}}]
    with pytest.raises(SuiteLoadError, match="expect_column_to_be_complete"):
        validate(citizens(), suite)


def test_signature_length_mismatch_rejected(dan_cu_suite):
    with pytest.raises(ValueError, match="signature_valid has 3 values for 100 records"):
        validate(citizens(), dan_cu_suite, valid=[True, True, True])


def test_signed_suite_needs_signature_flags(dan_cu_suite):
    with pytest.raises(ValueError, match="signature_present has 0 values"):
        validate(citizens(), dan_cu_suite, present=[])


def test_non_boolean_presence_rejected(dan_cu_suite):
    presence = pd.DataFrame({code: [1.0] * 5 for code in DAN_CU_CHECKED})
    with pytest.raises(ValueError, match="must be boolean"):
        validate_presence(presence, [True] * 5, [True] * 5, dan_cu_suite)


def test_unsupported_result_format_rejected(dan_cu_suite):
    with pytest.raises(ValueError, match="SUMMARY"):
        validate(citizens(), dan_cu_suite, result_format="SUMMARY")


def test_guard_rejects_unexpected_values():
    result = {
        "success": False,
        "results": [
            {"result": {"element_count": 3, "unexpected_count": 1, "partial_unexpected_list": []}},
            {"result": {"element_count": 3, "unexpected_count": 1, "partial_unexpected_list": ["Nguyễn Văn An"]}},
        ],
    }
    with pytest.raises(ValuesInResultError, match=r"results\[1\]\.result\.partial_unexpected_list"):
        assert_no_values(result)


@pytest.mark.parametrize(
    "key, value",
    [
        ("unexpected_list", [None]),
        ("unexpected_index_list", [0, 4]),
        ("partial_unexpected_index_list", [{"index": 2}]),
        ("partial_unexpected_counts", [{"value": "x", "count": 1}]),
        ("unexpected_index_query", "df.filter(items=[2], axis=0)"),
        ("observed_value", ["0010950"]),
        ("details", {"value_counts": [1]}),
    ],
)
def test_guard_rejects_each_value_key(key, value):
    with pytest.raises(ValuesInResultError, match=key):
        assert_no_values({"results": [{"result": {key: value}}]})


def test_guard_accepts_counts_and_empty_lists():
    assert_no_values({
        "results": [{"result": {
            "element_count": 10, "unexpected_count": 0, "unexpected_percent": 0.0,
            "partial_unexpected_list": [], "observed_value": 10, "unexpected_percent_nonmissing": None,
        }}],
        "statistics": {"evaluated_expectations": 1},
    })


def test_guard_catches_real_complete_result():
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("guard")
        .add_dataframe_asset("table")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": pd.DataFrame({"A": [1.0, None, 1.0]})})
    )
    suite = gx.ExpectationSuite(
        name="guard", expectations=[{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "A"}}]
    )
    result = batch.validate(suite, result_format="COMPLETE").to_json_dict()
    with pytest.raises(ValuesInResultError):
        assert_no_values(result)


def test_importing_validation_does_not_import_gx():
    modules = [
        "integration_monitor.validation",
        "integration_monitor.validation.suites",
        "integration_monitor.validation.run",
        "integration_monitor.validation.commands",
        "integration_monitor.completeness",
        "integration_monitor.thresholds",
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(name for name in ('great_expectations', 'pandas', 'numpy') if name in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert completed.stdout.strip() == "[]"
