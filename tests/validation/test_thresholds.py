"""Thresholds load from YAML with defaults and overrides, and bad files raise errors naming the entry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from integration_monitor.thresholds import (
    THRESHOLDS_ENV,
    ThresholdsError,
    check_against_catalog,
    load_thresholds,
    thresholds_for,
)

REPO = Path(__file__).resolve().parents[2]

OVERRIDES = """\
defaults:
  completeness: 0.9
databases:
  dan_cu:
    signature_valid: 0.98
    fields:
      HO_VA_TEN: 0.99
  khach_hang_evn:
    min_records: 10
    max_duplicate_share: 0.2
"""


def load_error(path: Path) -> ThresholdsError:
    with pytest.raises(ThresholdsError) as caught:
        load_thresholds(path)
    return caught.value


def test_committed_file_has_the_documented_defaults():
    limits = load_thresholds(REPO / "include" / "thresholds.yaml").content.defaults
    assert limits.completeness == 0.95
    assert limits.signature_present == 0.99
    assert limits.signature_valid == 0.99
    assert limits.min_records == 1
    assert limits.max_duplicate_share == 0.01


def test_committed_file_matches_the_catalog(catalog):
    check_against_catalog(load_thresholds(REPO / "include" / "thresholds.yaml"), catalog)


def test_empty_file_gives_defaults(write_thresholds):
    limits = thresholds_for("dan_cu", load_thresholds(write_thresholds("")))
    assert (limits.completeness, limits.signature_present, limits.signature_valid, limits.min_records) == (
        0.95, 0.99, 0.99, 1,
    )
    assert limits.field("HO_VA_TEN") == 0.95


def test_database_and_field_overrides(write_thresholds):
    thresholds = load_thresholds(write_thresholds(OVERRIDES))

    dan_cu = thresholds_for("dan_cu", thresholds)
    assert dan_cu.completeness == 0.9
    assert dan_cu.signature_present == 0.99
    assert dan_cu.signature_valid == 0.98
    assert dan_cu.field("HO_VA_TEN") == 0.99
    assert dan_cu.field("NGAY_SINH") == 0.9

    evn = thresholds_for("khach_hang_evn", thresholds)
    assert evn.min_records == 10
    assert evn.max_duplicate_share == 0.2
    assert evn.signature_valid == 0.99
    assert dan_cu.max_duplicate_share == 0.01


def test_unknown_database_gets_defaults(write_thresholds):
    limits = thresholds_for("khong_co_csdl_nay", load_thresholds(write_thresholds(OVERRIDES)))
    assert limits.completeness == 0.9
    assert limits.min_records == 1


def test_environment_variable_selects_file(write_thresholds, monkeypatch):
    path = write_thresholds("defaults:\n  completeness: 0.5\n", name="other.yaml")
    monkeypatch.setenv(THRESHOLDS_ENV, str(path))
    assert thresholds_for("dan_cu").completeness == 0.5
    assert load_thresholds().path == str(path)


def test_edited_file_is_read_again(write_thresholds):
    path = write_thresholds("defaults:\n  completeness: 0.5\n")
    assert thresholds_for("dan_cu", load_thresholds(path)).completeness == 0.5

    path.write_text("defaults:\n  completeness: 0.6\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert thresholds_for("dan_cu", load_thresholds(path)).completeness == 0.6


def test_blank_sections_are_empty(write_thresholds):
    thresholds = load_thresholds(write_thresholds("defaults:\ndatabases:\n  dan_cu:\n    fields:\n"))
    assert thresholds_for("dan_cu", thresholds).field("HO_VA_TEN") == 0.95


def test_ratio_above_one(write_thresholds):
    error = load_error(write_thresholds("databases:\n  dan_cu:\n    completeness: 95\n"))
    assert error.entry == "databases.dan_cu.completeness"
    assert "less than or equal to 1" in error.problem
    assert error.path.endswith("thresholds.yaml")
    assert str(error).startswith(error.path)


def test_negative_field_ratio(write_thresholds):
    error = load_error(write_thresholds("databases:\n  dan_cu:\n    fields:\n      HO_VA_TEN: -0.1\n"))
    assert error.entry == "databases.dan_cu.fields.HO_VA_TEN"
    assert "greater than or equal to 0" in error.problem


@pytest.mark.parametrize("value", ["true", "'0.95'", "95%"])
def test_ratio_that_is_not_a_number(write_thresholds, value):
    error = load_error(write_thresholds(f"defaults:\n  completeness: {value}\n"))
    assert error.entry == "defaults.completeness"
    assert "valid number" in error.problem


@pytest.mark.parametrize("value", ["-1", "1.5", "true"])
def test_min_records_must_be_a_whole_number(write_thresholds, value):
    error = load_error(write_thresholds(f"defaults:\n  min_records: {value}\n"))
    assert error.entry == "defaults.min_records"


def test_misspelt_key(write_thresholds):
    error = load_error(write_thresholds("databases:\n  dan_cu:\n    completness: 0.9\n"))
    assert error.entry == "databases.dan_cu.completness"
    assert "Extra inputs are not permitted" in error.problem


def test_invalid_yaml_names_the_line(write_thresholds):
    error = load_error(write_thresholds("defaults:\n  completeness: [0.9\n"))
    assert error.entry.startswith("line ")
    assert "invalid YAML" in error.problem


def test_top_level_list(write_thresholds):
    error = load_error(write_thresholds("- completeness: 0.9\n"))
    assert error.entry == "file"
    assert "expected a mapping" in error.problem


def test_missing_file(tmp_path):
    error = load_error(tmp_path / "absent.yaml")
    assert error.problem == "file not found"


def test_environment_variable_to_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv(THRESHOLDS_ENV, str(tmp_path / "absent.yaml"))
    with pytest.raises(ThresholdsError, match="absent.yaml: file: file not found"):
        thresholds_for("dan_cu")


def test_not_utf8(write_thresholds):
    path = write_thresholds("")
    path.write_bytes("defaults:\n  # Ngưỡng\n".encode("utf-16"))
    assert "not valid UTF-8" in load_error(path).problem


def test_override_for_unknown_database(write_thresholds, small_catalog):
    thresholds = load_thresholds(write_thresholds("databases:\n  dan_cuu:\n    completeness: 0.9\n"))
    with pytest.raises(ThresholdsError) as caught:
        check_against_catalog(thresholds, small_catalog)
    assert caught.value.entry == "databases.dan_cuu"
    assert "unknown database" in caught.value.problem


def test_override_for_unknown_field(write_thresholds, small_catalog):
    thresholds = load_thresholds(write_thresholds("databases:\n  dan_cu:\n    fields:\n      HO_TEN: 0.9\n"))
    with pytest.raises(ThresholdsError) as caught:
        check_against_catalog(thresholds, small_catalog)
    assert caught.value.entry == "databases.dan_cu.fields.HO_TEN"
    assert "unknown field of dan_cu" in caught.value.problem
