"""Suites come from the catalog and the thresholds, and the committed files must match them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integration_monitor.catalog.loader import load_catalog
from integration_monitor.thresholds import ThresholdsError, load_thresholds
from integration_monitor.cli import main
from integration_monitor.validation.suites import (
    build_suite,
    build_suites,
    checked_fields,
    find_drift,
    suite_checks_signatures,
    suite_fields,
    suite_json,
    write_suites,
)
from tests.validation.conftest import DAN_CU_CHECKED

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "expectations"


def summary(suite: dict) -> list[tuple]:
    """Return (type, column, mostly or min_value) per expectation, in suite order."""
    rows = []
    for expectation in suite["expectations"]:
        kwargs = expectation["kwargs"]
        rows.append((expectation["type"], kwargs.get("column"), kwargs.get("mostly", kwargs.get("min_value"))))
    return rows


def run_cli(*argv: str) -> int:
    """Run ``integration-monitor`` in this process, through the real command registry."""
    return main(list(argv))


def test_checked_fields_are_union_of_services(small_catalog):
    assert checked_fields(small_catalog, "dan_cu") == DAN_CU_CHECKED
    assert checked_fields(small_catalog, "khach_hang_evn") == ["MA_KHACH_HANG"]


def test_signed_database_suite(small_catalog, default_thresholds):
    suite = build_suite(small_catalog, "dan_cu", default_thresholds.database("dan_cu"))

    expected = [("expect_table_row_count_to_be_between", None, 1)]
    for code in DAN_CU_CHECKED:
        expected.append(("expect_column_to_exist", code, None))
        expected.append(("expect_column_values_to_not_be_null", code, 0.95))
    expected.append(("expect_column_values_to_not_be_null", "_signature_present", 0.99))
    expected.append(("expect_column_values_to_not_be_null", "_signature_valid", 0.99))
    assert summary(suite) == expected

    assert suite["name"] == "presence.dan_cu"
    assert suite["meta"]["services"] == [1, 2]
    assert suite["meta"]["signed"] is True
    assert suite_fields(suite) == DAN_CU_CHECKED
    assert suite_checks_signatures(suite)


def test_unsigned_database_has_no_signature_checks(small_catalog, default_thresholds):
    suite = build_suite(small_catalog, "khach_hang_evn", default_thresholds.database("khach_hang_evn"))
    assert summary(suite) == [
        ("expect_table_row_count_to_be_between", None, 1),
        ("expect_column_to_exist", "MA_KHACH_HANG", None),
        ("expect_column_values_to_not_be_null", "MA_KHACH_HANG", 0.95),
    ]
    assert not suite_checks_signatures(suite)


def test_thresholds_reach_the_suite(small_catalog, write_thresholds):
    thresholds = load_thresholds(write_thresholds(
        "databases:\n  dan_cu:\n    min_records: 50\n    signature_present: 0.9\n    fields:\n      HO_VA_TEN: 0.99\n"
    ))
    rows = summary(build_suites(small_catalog, thresholds)["dan_cu"])
    assert ("expect_table_row_count_to_be_between", None, 50) in rows
    assert ("expect_column_values_to_not_be_null", "HO_VA_TEN", 0.99) in rows
    assert ("expect_column_values_to_not_be_null", "NGAY_SINH", 0.95) in rows
    assert ("expect_column_values_to_not_be_null", "_signature_present", 0.9) in rows


def test_stale_threshold_override_rejected(small_catalog, write_thresholds):
    thresholds = load_thresholds(write_thresholds("databases:\n  dan_cu:\n    fields:\n      HO_TEN: 0.9\n"))
    with pytest.raises(ThresholdsError, match="HO_TEN"):
        build_suites(small_catalog, thresholds)


def test_suite_json_is_stable_and_readable(small_catalog, default_thresholds):
    first = suite_json(build_suites(small_catalog, default_thresholds)["dan_cu"])
    second = suite_json(build_suites(small_catalog, default_thresholds)["dan_cu"])
    assert first == second
    assert first.endswith("}\n")
    assert "Họ, chữ đệm và tên khai sinh" in first
    assert list(json.loads(first)) == sorted(json.loads(first))


def test_committed_suites_match_catalog():
    suites = build_suites(load_catalog(), load_thresholds(REPO / "include" / "thresholds.yaml"))
    drift = find_drift(suites, COMMITTED)
    assert drift == [], "run `integration-monitor expectations generate`: " + ", ".join(
        f"{item.path.name} {item.problem}" for item in drift
    )


def test_committed_suites_load_completely_in_gx():
    import great_expectations as gx

    paths = sorted(COMMITTED.glob("*.json"))
    assert paths
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        loaded = gx.ExpectationSuite(name=data["name"], expectations=data["expectations"])
        assert len(loaded.expectations) == len(data["expectations"]), path.name


def test_write_suites_only_rewrites_changes(tmp_path, small_catalog, default_thresholds):
    suites = build_suites(small_catalog, default_thresholds)
    written, deleted = write_suites(suites, tmp_path)
    assert sorted(path.name for path in written) == ["dan_cu.json", "khach_hang_evn.json"]
    assert deleted == []

    written, deleted = write_suites(suites, tmp_path)
    assert written == []

    (tmp_path / "ho_tich.json").write_text("{}\n", encoding="utf-8")
    written, deleted = write_suites(suites, tmp_path)
    assert [path.name for path in deleted] == ["ho_tich.json"]
    assert not (tmp_path / "ho_tich.json").exists()


def test_find_drift_names_each_problem(tmp_path, small_catalog, default_thresholds):
    suites = build_suites(small_catalog, default_thresholds)
    write_suites(suites, tmp_path)
    assert find_drift(suites, tmp_path) == []

    (tmp_path / "dan_cu.json").write_text(suite_json(suites["dan_cu"]).replace("0.95", "0.9"), encoding="utf-8")
    (tmp_path / "khach_hang_evn.json").unlink()
    (tmp_path / "ho_tich.json").write_text("{}\n", encoding="utf-8")

    problems = {item.path.name: item.problem for item in find_drift(suites, tmp_path)}
    assert problems == {
        "dan_cu.json": "differs",
        "khach_hang_evn.json": "missing",
        "ho_tich.json": "not in the catalog",
    }


def test_cli_generate_then_check(tmp_path, capsys):
    thresholds = REPO / "include" / "thresholds.yaml"
    assert run_cli("expectations", "generate", "--dir", str(tmp_path), "--thresholds", str(thresholds)) == 0
    assert (tmp_path / "dan_cu.json").is_file()

    assert run_cli("expectations", "check", "--dir", str(tmp_path), "--lang", "en") == 0
    assert "match the catalog" in capsys.readouterr().out


def test_cli_check_names_drifted_files(tmp_path, capsys):
    assert run_cli("expectations", "generate", "--dir", str(tmp_path)) == 0
    path = tmp_path / "bao_hiem.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"mostly": 0.95', '"mostly": 0.5', 1), encoding="utf-8")
    (tmp_path / "dat_dai.json").unlink()
    capsys.readouterr()

    assert run_cli("expectations", "check", "--dir", str(tmp_path), "--lang", "en") == 1
    errors = capsys.readouterr().err
    assert "bao_hiem.json: differs" in errors
    assert "dat_dai.json: missing" in errors
    assert "dan_cu.json" not in errors
    assert "2 suite files are out of date" in errors


def test_cli_reports_invalid_thresholds(tmp_path, write_thresholds, capsys):
    bad = write_thresholds("defaults:\n  completeness: 2\n", name="bad.yaml")
    assert run_cli("expectations", "check", "--dir", str(tmp_path), "--thresholds", str(bad), "--lang", "en") == 2
    assert "invalid thresholds" in capsys.readouterr().err
    assert not any(tmp_path.glob("*.json"))


def test_cli_reports_invalid_catalog(tmp_path, capsys):
    assert run_cli("expectations", "generate", "--dir", str(tmp_path), "--root", str(tmp_path / "none")) == 2
    assert "folder not found" in capsys.readouterr().err
