"""A small catalog built with the models, so these tests do not depend on the appendix files.

Two databases: ``dan_cu`` (signed, five fields, four of them required by some service) and
``khach_hang_evn`` (not signed, three fields, one required).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integration_monitor.catalog.models import (
    Catalog,
    FieldFormat,
    FieldSource,
    FieldSpec,
    FieldType,
    NationalDatabase,
    Owner,
    Service,
    ServiceDatabase,
)
from integration_monitor.thresholds import Thresholds, load_thresholds

DAN_CU_FIELDS = {
    "SO_DINH_DANH": "Số định danh cá nhân",
    "HO_VA_TEN": "Họ, chữ đệm và tên khai sinh",
    "NGAY_SINH": "Ngày, tháng, năm sinh",
    "GIOI_TINH": "Giới tính",
    "NOI_THUONG_TRU": "Nơi thường trú",
}
EVN_FIELDS = {
    "MA_KHACH_HANG": "Mã khách hàng",
    "TEN_KHACH_HANG": "Tên khách hàng",
    "DIA_CHI_DUNG_DIEN": "Địa chỉ sử dụng điện",
}
DAN_CU_CHECKED = ["GIOI_TINH", "HO_VA_TEN", "NGAY_SINH", "SO_DINH_DANH"]


def field_spec(code: str, label: str) -> FieldSpec:
    return FieldSpec(
        code=code,
        label=label,
        label_en=code.replace("_", " ").title(),
        type=FieldType.STRING,
        format=FieldFormat.TEXT,
        personal=True,
        source=FieldSource.MODELLED,
    )


def service(number: int, name: str, reads: dict[str, list[str]]) -> Service:
    return Service(
        number=number,
        name=name,
        name_en=f"Service {number}",
        managing_body="bo_cong_an",
        end_to_end_per_appendix=True,
        data_owners=("bo_cong_an",),
        databases=tuple(
            ServiceDatabase(
                database=code,
                field_count_in_appendix=len(fields),
                wording_in_appendix=f"CSDL {code} ({len(fields)} trường dữ liệu)",
                required_fields=tuple(fields),
            )
            for code, fields in reads.items()
        ),
        tasks=(),
    )


@pytest.fixture(scope="session")
def small_catalog() -> Catalog:
    owners = (
        Owner(code="bo_cong_an", name="Bộ Công an", name_en="Ministry of Public Security"),
        Owner(code="evn", name="Tập đoàn Điện lực Việt Nam", name_en="Vietnam Electricity"),
    )
    databases = (
        NationalDatabase(
            code="dan_cu",
            name="Cơ sở dữ liệu quốc gia về dân cư",
            name_en="National population database",
            owner="bo_cong_an",
            record_kind="công dân",
            signed=True,
            fields=tuple(field_spec(code, label) for code, label in DAN_CU_FIELDS.items()),
        ),
        NationalDatabase(
            code="khach_hang_evn",
            name="Hệ thống quản lý khách hàng EVN",
            name_en="EVN customer management system",
            owner="evn",
            record_kind="khách hàng",
            signed=False,
            fields=tuple(field_spec(code, label) for code, label in EVN_FIELDS.items()),
        ),
    )
    services = (
        service(1, "Đăng ký khai sinh", {"dan_cu": ["SO_DINH_DANH", "HO_VA_TEN"], "khach_hang_evn": ["MA_KHACH_HANG"]}),
        service(2, "Đăng ký thường trú", {"dan_cu": ["HO_VA_TEN", "NGAY_SINH", "GIOI_TINH"]}),
    )
    return Catalog(owners=owners, databases=databases, services=services)


@pytest.fixture()
def write_thresholds(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a thresholds file into the test's folder and return its path."""

    def write(text: str, name: str = "thresholds.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture()
def default_thresholds(write_thresholds) -> Thresholds:  # type: ignore[no-untyped-def]
    return load_thresholds(write_thresholds("defaults: {}\n"))
