"""Bad catalog input stops loading with an error naming the file, the entry and the problem."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from integration_monitor.catalog import CatalogError, load_catalog

SOURCE = Path(__file__).resolve().parents[2] / "include" / "appendix_data"


@pytest.fixture()
def catalog_copy(tmp_path: Path) -> Path:
    target = tmp_path / "appendix_data"
    shutil.copytree(SOURCE, target)
    return target


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found in {path.name}: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def load_error(root: Path) -> CatalogError:
    with pytest.raises(CatalogError) as caught:
        load_catalog(root)
    return caught.value


def test_copy_loads_cleanly(catalog_copy):
    assert len(load_catalog(catalog_copy).services) == 25


def test_unknown_database(catalog_copy):
    replace_once(catalog_copy / "services.yaml", "database: tong_hop_tai_chinh", "database: tong_hop_tai_chinhh")
    error = load_error(catalog_copy)
    assert error.path.endswith("services.yaml")
    assert "service" in error.entry
    assert "6" in error.entry
    assert "unknown database 'tong_hop_tai_chinhh'" in error.problem


def test_count_mismatch(catalog_copy):
    replace_once(catalog_copy / "services.yaml", "field_count_in_appendix: 157", "field_count_in_appendix: 158")
    error = load_error(catalog_copy)
    assert error.path.endswith("service_fields.yaml")
    assert "kham_chua_benh" in error.entry
    assert "count mismatch: the appendix gives 158 fields, 157 are listed" in error.problem


def test_duplicate_field(catalog_copy):
    fields = catalog_copy / "fields" / "can_cuoc.yaml"
    text = fields.read_text(encoding="utf-8")
    first = text.index("  - code: ")
    second = text.index("  - code: ", first + 1)
    fields.write_text(text + text[first:second], encoding="utf-8")
    error = load_error(catalog_copy)
    assert error.path.endswith("can_cuoc.yaml")
    assert "duplicate field code" in error.problem


def test_bad_date(catalog_copy):
    replace_once(catalog_copy / "services.yaml", "deadline: 2025-06-25", "deadline: 2025-06-31")
    error = load_error(catalog_copy)
    assert error.path.endswith("services.yaml")
    assert "number 1" in error.entry
    assert "deadline" in error.problem
    assert "date" in error.problem.lower()


def test_unknown_owner(catalog_copy):
    replace_once(catalog_copy / "databases.yaml", "owner: bo_tu_phap", "owner: bo_tu_phap_cu")
    error = load_error(catalog_copy)
    assert error.path.endswith("databases.yaml")
    assert "unknown owner 'bo_tu_phap_cu'" in error.problem


def test_unknown_required_field(catalog_copy):
    path = catalog_copy / "service_fields.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "can_cuoc: ["
    start = text.index(marker) + len(marker)
    path.write_text(text[:start] + "KHONG_CO_TRUONG_NAY, " + text[start:], encoding="utf-8")
    error = load_error(catalog_copy)
    assert "KHONG_CO_TRUONG_NAY" in error.problem


def test_invalid_yaml_names_line(catalog_copy):
    (catalog_copy / "owners.yaml").write_text("owners:\n  - code: [unclosed\n", encoding="utf-8")
    error = load_error(catalog_copy)
    assert error.path.endswith("owners.yaml")
    assert error.entry.startswith("line ")
    assert "invalid YAML" in error.problem


def test_missing_file(catalog_copy):
    (catalog_copy / "fields" / "dat_dai.yaml").unlink()
    error = load_error(catalog_copy)
    assert error.path.endswith("dat_dai.yaml")
    assert error.problem == "file not found"


def test_cli_reports_without_traceback(catalog_copy, repo_root):
    replace_once(catalog_copy / "databases.yaml", "owner: bo_tu_phap", "owner: bo_tu_phap_cu")
    completed = subprocess.run(
        [sys.executable, "-m", "integration_monitor.cli", "catalog", "--root", str(catalog_copy)],
        capture_output=True, text=True, cwd=repo_root,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert "databases.yaml" in completed.stderr
    assert "bo_tu_phap_cu" in completed.stderr
