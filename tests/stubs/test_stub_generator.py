"""Synthetic records: value formats, coherence within a record, and determinism by seed."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from integration_monitor.catalog.models import Catalog, FieldFormat
from integration_monitor.stubs import values
from integration_monitor.stubs.generator import RecordGenerator

SAMPLE = 300

PATTERNS: dict[FieldFormat, str] = {
    FieldFormat.PERSONAL_ID: r"\d{12}",
    FieldFormat.CMND_9: r"\d{9}",
    FieldFormat.PERSON_NAME: r"\w+( \w+){2,}",
    FieldFormat.ISO_DATE: r"\d{4}-\d{2}-\d{2}",
    FieldFormat.ISO_DATETIME: r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00",
    FieldFormat.ETHNICITY_CODE: r"(0[1-9]|[1-4]\d|5[0-4])",
    FieldFormat.NATIONALITY_CODE: r"[A-Z]{2}",
    FieldFormat.BLOOD_GROUP: r"(O|A|B|AB)",
    FieldFormat.PROVINCE_CODE: r"\d{2}",
    FieldFormat.WARD_CODE: r"\d{5}",
    FieldFormat.DISTRICT_CODE: r"\d{3}",
    FieldFormat.PHONE: r"0[35789]\d{8}",
    FieldFormat.EMAIL: r"[a-z0-9]+@example\.(com|net|org)",
    FieldFormat.ICD10: r"[A-Z]\d{2}(\.\d{1,2})?",
    FieldFormat.BHYT_CARD: r"[A-Z]{2}\d{13}",
    FieldFormat.BHXH_CODE: r"\d{10}",
    FieldFormat.HEALTH_FACILITY_CODE: r"\d{5}",
    FieldFormat.ENTERPRISE_CODE: r"\d{10}",
    FieldFormat.TAX_CODE: r"\d{10}(\d{3})?",
    FieldFormat.LICENCE_CLASS: "(" + "|".join(values.LICENCE_CLASSES) + ")",
    FieldFormat.LICENCE_NUMBER: r"\d{12}",
    FieldFormat.PASSPORT_NUMBER: r"[A-Z]\d{7}",
    FieldFormat.DOCUMENT_NUMBER: r"\d{1,4}/\d{4}/\S+",
    FieldFormat.EVN_CUSTOMER_CODE: r"P[A-Z]\d{11}",
    FieldFormat.LAND_PARCEL: r"\d{1,3}/\d{1,4}",
    FieldFormat.YEAR_MONTH: r"\d{4}-(0[1-9]|1[0-2])",
}


def all_records(catalog: Catalog, generator: RecordGenerator, count: int = SAMPLE) -> list[tuple[Any, dict[str, Any]]]:
    return [(database, generator.record(database, index)) for database in catalog.databases for index in range(count)]


def test_every_format_is_used(stub_catalog: Catalog) -> None:
    used = {spec.format for database in stub_catalog.databases for spec in database.fields}
    assert used == set(FieldFormat)


def test_values_match_their_format(stub_catalog: Catalog) -> None:
    generator = RecordGenerator(2025)
    for database, record in all_records(stub_catalog, generator):
        for spec in database.fields:
            value = record[spec.code]
            pattern = PATTERNS.get(spec.format)
            if pattern is None or value is None:
                continue
            assert re.fullmatch(pattern, str(value)), f"{database.code}.{spec.code}={value!r} does not match {pattern}"


def test_values_follow_field_types(stub_catalog: Catalog) -> None:
    generator = RecordGenerator(2025)
    expected = {"string": str, "date": str, "datetime": str, "integer": int, "boolean": bool}
    for database, record in all_records(stub_catalog, generator, 50):
        for spec in database.fields:
            value = record[spec.code]
            if value is None:
                continue
            if spec.type == "number":
                assert isinstance(value, (int, float)) and not isinstance(value, bool)
            else:
                assert type(value) is expected[spec.type], f"{database.code}.{spec.code}={value!r}"


def test_personal_id_agrees_with_person(stub_catalog: Catalog) -> None:
    generator = RecordGenerator(7)
    population = stub_catalog.database("dan_cu")
    province_codes = {int(province.code) for province in values.provinces()}
    for index in range(SAMPLE):
        record = generator.record(population, index)
        personal_id = record["SO_DINH_DANH"]
        birth = dt.date.fromisoformat(record["NGAY_SINH"])
        province = int(personal_id[:3])
        century_digit = int(personal_id[3])
        assert province in province_codes
        assert province == int(record["NOI_SINH_MA_TINH"])
        assert century_digit % 2 == (0 if record["GIOI_TINH"] == 1 else 1)
        assert 1900 + 100 * (century_digit // 2) <= birth.year < 2000 + 100 * (century_digit // 2)
        assert personal_id[4:6] == f"{birth.year % 100:02d}"
        assert birth <= values.REFERENCE_DATE


def test_relatives_are_other_people(stub_catalog: Catalog) -> None:
    generator = RecordGenerator(2025)
    population = stub_catalog.database("dan_cu")
    differing = 0
    for index in range(100):
        record = generator.record(population, index)
        differing += record["SO_DINH_DANH_CHA"] != record["SO_DINH_DANH"]
        assert record["SO_DINH_DANH_CHA"][3] in "0246"
        assert dt.date.fromisoformat(record["NGAY_SINH_ME"]) < dt.date.fromisoformat(record["NGAY_SINH"])
    assert differing == 100


def test_wards_belong_to_province(stub_catalog: Catalog) -> None:
    generator = RecordGenerator(2025)
    wards = values.wards_by_province()
    for database_code, province_field, ward_field in (
        ("dan_cu", "THUONG_TRU_MA_TINH", "THUONG_TRU_MA_XA"),
        ("kham_chua_benh", "MATINH_CU_TRU", "MAXA_CU_TRU"),
        ("dat_dai", "MA_TINH", "MA_XA"),
    ):
        database = stub_catalog.database(database_code)
        for index in range(SAMPLE):
            record = generator.record(database, index)
            ward_codes = {int(ward.code) for ward in wards[int(record[province_field])]}
            assert int(record[ward_field]) in ward_codes


def test_health_card_carries_social_insurance_code(stub_catalog: Catalog) -> None:
    generator = RecordGenerator(2025)
    health = stub_catalog.database("kham_chua_benh")
    for index in range(SAMPLE):
        record = generator.record(health, index)
        assert record["MA_THE_BHYT"][-10:] == record["MA_BHXH"]
        assert record["MA_THE_BHYT"][3:5] == record["MATINH_CU_TRU"]


def test_enterprise_code_has_check_digit(stub_catalog: Catalog) -> None:
    generator = RecordGenerator(2025)
    registry = stub_catalog.database("dang_ky_doanh_nghiep")
    for index in range(SAMPLE):
        code = generator.record(registry, index)["MA_SO_DOANH_NGHIEP"]
        total = sum(int(digit) * weight for digit, weight in zip(code[:9], values.TAX_CODE_WEIGHTS, strict=True))
        assert int(code[9]) == 10 - total % 11


def test_same_seed_same_record(stub_catalog: Catalog) -> None:
    first = RecordGenerator(2025)
    second = RecordGenerator(2025)
    health = stub_catalog.database("kham_chua_benh")
    order = [17, 3, 250, 3]
    assert [first.record(health, index) for index in order] == [second.record(health, index) for index in order]


def test_other_seed_other_records(stub_catalog: Catalog) -> None:
    population = stub_catalog.database("dan_cu")
    first = [RecordGenerator(2025).record(population, index) for index in range(20)]
    second = [RecordGenerator(2026).record(population, index) for index in range(20)]
    assert all(a["SO_DINH_DANH"] != b["SO_DINH_DANH"] for a, b in zip(first, second, strict=True))
    assert all(a["_id"] != b["_id"] for a, b in zip(first, second, strict=True))


def test_record_ids_are_unique(stub_catalog: Catalog) -> None:
    generator = RecordGenerator(2025)
    ids = {generator.record_id(database.code, index) for database in stub_catalog.databases for index in range(500)}
    assert len(ids) == 500 * len(stub_catalog.databases)


def test_names_are_vietnamese_order(stub_catalog: Catalog) -> None:
    generator = RecordGenerator(2025)
    population = stub_catalog.database("dan_cu")
    family_names = {"Nguyễn", "Trần", "Lê", "Phạm", "Vũ", "Đặng", "Bùi", "Dương", "Mai", "Hoàng"}
    for index in range(100):
        record = generator.record(population, index)
        assert record["HO_VA_TEN"].split()[0] in family_names
        assert record["HO_TEN_CHA"].split()[1] != "Thị"


@pytest.mark.parametrize("seed", [0, 2025])
def test_generator_covers_real_provinces(stub_catalog: Catalog, seed: int) -> None:
    generator = RecordGenerator(seed)
    population = stub_catalog.database("dan_cu")
    provinces = {generator.record(population, index)["THUONG_TRU_MA_TINH"] for index in range(SAMPLE)}
    assert len(values.provinces()) == 34
    assert len(provinces) > 25
