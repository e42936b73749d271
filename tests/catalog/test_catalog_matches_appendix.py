"""The catalog agrees with the Government Office appendix it transcribes."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

APPENDIX = Path(__file__).resolve().parents[2] / "include" / "appendix_data" / "source" / "vpcp-appendix-2025.txt"

NOT_END_TO_END = {1, 5, 18, 19, 20, 21}

DATED_DEADLINES = {
    1: ["2025-06-30", "2025-06-30", "2025-06-30", "2025-06-25"],
    2: ["2025-07-15"],
    5: ["2025-06-30", "2025-06-30"],
    17: ["2025-06-30", "2025-06-30", "2025-06-30"],
    19: ["2025-07-30", "2025-07-30"],
    20: ["2025-06-30"],
    21: ["2025-06-30"],
}


def appendix_counts() -> list[int]:
    """Every "(N trường …)" count of the appendix, in reading order."""
    text = re.sub(r"\s+", " ", APPENDIX.read_text(encoding="utf-8"))
    return [int(value) for value in re.findall(r"\(\s*(\d+)\s+trường", text)]


def test_catalog_has_25_numbered_services(catalog):
    assert [service.number for service in catalog.services] == list(range(1, 26))


def test_field_counts_follow_the_appendix_in_order(catalog):
    printed = [entry.field_count_in_appendix for service in catalog.services for entry in service.databases
               if entry.field_count_in_appendix is not None]
    assert printed == appendix_counts()


def test_required_fields_match_counts(catalog):
    for service in catalog.services:
        for entry in service.databases:
            if entry.field_count_in_appendix is None:
                assert entry.required_fields, f"service {service.number} {entry.database}: empty set"
            else:
                assert len(entry.required_fields) == entry.field_count_in_appendix, (service.number, entry.database)


def test_databases_without_count_are_marked(catalog):
    uncounted = {(service.number, entry.database) for service in catalog.services for entry in service.databases
                 if entry.field_count_in_appendix is None}
    assert uncounted == {(3, "viec_lam"), (5, "viec_lam"), (19, "nguoi_co_cong"), (19, "bao_tro_xa_hoi"),
                         (25, "dang_ky_doanh_nghiep")}


def test_not_end_to_end_services(catalog):
    marked = {service.number for service in catalog.services if not service.end_to_end_per_appendix}
    assert marked == NOT_END_TO_END


def test_dated_deadlines(catalog):
    for service in catalog.services:
        dated = [task.deadline.isoformat() for task in service.tasks if task.deadline is not None]
        assert dated == DATED_DEADLINES.get(service.number, []), service.number


def test_insurance_wordings_share_one_database(catalog):
    insurance = catalog.database("bao_hiem")
    readers = {service.number for service in catalog.services_reading("bao_hiem")}
    assert readers == {1, 2, 3, 4, 5, 18, 19}
    assert {"CSDL BHXH", "CSDL quốc gia về BHXH"} <= set(insurance.aliases)


def test_every_database_has_real_or_marked_fields(catalog):
    assert len(catalog.databases) == 16
    for database in catalog.databases:
        assert database.fields, database.code
        for spec in database.fields:
            assert spec.source.value in {"law", "exchange_format", "modelled"}
        if database.code in {"dan_cu", "kham_chua_benh"}:
            assert any(spec.source.value != "modelled" for spec in database.fields), database.code


def test_text_is_nfc_vietnamese(catalog):
    for service in catalog.services:
        assert unicodedata.is_normalized("NFC", service.name)
    assert catalog.service(1).name.startswith("Giải quyết hưởng chế độ ốm đau")
    assert catalog.owner(catalog.database("kham_chua_benh").owner).name == "Bộ Y tế"


def test_catalog_json_command(repo_root):
    completed = subprocess.run([sys.executable, "-m", "integration_monitor.cli", "catalog", "--json"],
                               capture_output=True, text=True, check=True, cwd=repo_root)
    data = json.loads(completed.stdout)
    assert len(data["services"]) == 25
    first = data["services"][0]
    assert first["number"] == 1
    assert first["managing_body"] == "Bộ Tài chính"
    assert first["end_to_end_per_appendix"] is False
    health = next(item for item in first["databases"] if item["database"] == "kham_chua_benh")
    assert health["field_count_in_appendix"] == 157
    assert len(health["required_fields"]) == 157
    assert dt.date.fromisoformat(first["tasks"][3]["deadline"]) == dt.date(2025, 6, 25)
    service_25 = data["services"][24]
    assert service_25["databases"][0]["field_count_in_appendix"] is None
    assert {"code", "name", "owner", "fields"} <= set(data["databases"][0])


def test_catalog_summary_languages(repo_root):
    def run(*extra: str) -> str:
        return subprocess.run([sys.executable, "-m", "integration_monitor.cli", "catalog", *extra],
                              capture_output=True, text=True, check=True, cwd=repo_root).stdout

    vietnamese = run()
    english = run("--lang", "en")
    assert "Phụ lục đánh giá chưa toàn trình: 1, 5, 18, 19, 20, 21." in vietnamese
    assert "Marked not end-to-end by the appendix: 1, 5, 18, 19, 20, 21." in english
