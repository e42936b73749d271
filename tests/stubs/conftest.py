"""A small catalog of its own and running stub servers for the stub tests.

The catalog covers every FieldFormat and FieldType, a signed XML database (kham_chua_benh)
and an unsigned one (khach_hang_evn), so the tests do not depend on the appendix data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

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
from integration_monitor.service_codes import service_code
from integration_monitor.signatures import KeyAlgorithm, LocalPki
from integration_monitor.stubs.auth import ClientCredentials
from integration_monitor.stubs.server import BackgroundStubServer, StubServer
from integration_monitor.stubs.settings import StubSettings

CLIENT_ID = "monitor-test"
CLIENT_SECRET = "secret-" + uuid.uuid4().hex
ADMIN_TOKEN = "admin-" + uuid.uuid4().hex
TEST_TOTAL = 600

F, T = FieldFormat, FieldType


def _field(code: str, field_format: FieldFormat, field_type: FieldType = T.STRING, group: str | None = None) -> FieldSpec:
    return FieldSpec(
        code=code,
        label=code.replace("_", " ").title(),
        label_en=code.replace("_", " ").lower(),
        type=field_type,
        format=field_format,
        personal=True,
        source=FieldSource.MODELLED,
        group=group,
    )


DATABASE_FIELDS: dict[str, list[FieldSpec]] = {
    "dan_cu": [
        _field("SO_DINH_DANH", F.PERSONAL_ID),
        _field("HO_VA_TEN", F.PERSON_NAME),
        _field("GIOI_TINH", F.SEX, T.INTEGER),
        _field("NGAY_SINH", F.ISO_DATE, T.DATE),
        _field("NOI_SINH_MA_TINH", F.PROVINCE_CODE),
        _field("DAN_TOC", F.ETHNICITY_CODE),
        _field("TON_GIAO", F.RELIGION),
        _field("QUOC_TICH", F.NATIONALITY_CODE),
        _field("NHOM_MAU", F.BLOOD_GROUP),
        _field("TINH_TRANG_HON_NHAN", F.MARITAL_STATUS),
        _field("SO_CMND", F.CMND_9),
        _field("THUONG_TRU_MA_TINH", F.PROVINCE_CODE),
        _field("THUONG_TRU_MA_XA", F.WARD_CODE),
        _field("THUONG_TRU_MA_HUYEN", F.DISTRICT_CODE),
        _field("THUONG_TRU_CHI_TIET", F.ADDRESS),
        _field("SO_DIEN_THOAI", F.PHONE),
        _field("EMAIL", F.EMAIL),
        _field("HO_TEN_CHA", F.PERSON_NAME),
        _field("SO_DINH_DANH_CHA", F.PERSONAL_ID),
        _field("HO_TEN_ME", F.PERSON_NAME),
        _field("NGAY_SINH_ME", F.ISO_DATE, T.DATE),
    ],
    "kham_chua_benh": [
        _field("MA_LK", F.CODE, group="XML1"),
        _field("HO_TEN", F.PERSON_NAME, group="XML1"),
        _field("SO_CCCD", F.PERSONAL_ID, group="XML1"),
        _field("NGAY_SINH", F.ISO_DATE, T.DATE, group="XML1"),
        _field("GIOI_TINH", F.SEX, T.INTEGER, group="XML1"),
        _field("MA_THE_BHYT", F.BHYT_CARD, group="XML1"),
        _field("MA_BENH_CHINH", F.ICD10, group="XML1"),
        _field("MA_CSKCB", F.HEALTH_FACILITY_CODE, group="XML1"),
        _field("NGAY_VAO", F.ISO_DATETIME, T.DATETIME, group="XML1"),
        _field("NGAY_RA", F.ISO_DATETIME, T.DATETIME, group="XML1"),
        _field("T_TONGCHI_BV", F.MONEY_VND, T.NUMBER, group="XML1"),
        _field("SO_NGAY_DTRI", F.QUANTITY, T.INTEGER, group="XML1"),
        _field("MATINH_CU_TRU", F.PROVINCE_CODE, group="XML1"),
        _field("MAXA_CU_TRU", F.WARD_CODE, group="XML1"),
        _field("XML7_NGAY_RA", F.ISO_DATE, T.DATE, group="XML7"),
        _field("MA_BHXH", F.BHXH_CODE, group="XML11"),
        _field("XML13_SO_CHUYEN_TUYEN", F.DOCUMENT_NUMBER, group="XML13"),
    ],
    "dang_ky_doanh_nghiep": [
        _field("MA_SO_DOANH_NGHIEP", F.ENTERPRISE_CODE),
        _field("TEN_DOANH_NGHIEP", F.TEXT),
        _field("NGAY_DANG_KY_LAN_DAU", F.ISO_DATE, T.DATE),
        _field("HO_TEN_NGUOI_DAI_DIEN", F.PERSON_NAME),
        _field("MA_SO_THUE", F.TAX_CODE),
        _field("VON_DIEU_LE", F.MONEY_VND, T.INTEGER),
        _field("DANG_HOAT_DONG", F.CODE, T.BOOLEAN),
    ],
    "dat_dai": [
        _field("THUA_DAT", F.LAND_PARCEL),
        _field("CHU_SU_DUNG", F.PERSON_NAME),
        _field("MA_TINH", F.PROVINCE_CODE),
        _field("MA_XA", F.WARD_CODE),
        _field("SO_GIAY_CHUNG_NHAN", F.DOCUMENT_NUMBER),
    ],
    "giay_phep_lai_xe": [
        _field("SO_GPLX", F.LICENCE_NUMBER),
        _field("HANG_GPLX", F.LICENCE_CLASS),
        _field("NGAY_CAP", F.ISO_DATE, T.DATE),
        _field("NGAY_HET_HAN", F.ISO_DATE, T.DATE),
        _field("SO_HO_CHIEU", F.PASSPORT_NUMBER),
        _field("LOAI_HO_SO", F.CODE),
    ],
    "khach_hang_evn": [
        _field("MA_KHACH_HANG", F.EVN_CUSTOMER_CODE),
        _field("TEN_KHACH_HANG", F.PERSON_NAME),
        _field("DIA_CHI", F.ADDRESS),
        _field("KY_HOA_DON", F.YEAR_MONTH),
        _field("SO_TIEN", F.MONEY_VND, T.INTEGER),
    ],
}

UNSIGNED_DATABASES = {"khach_hang_evn"}

# Service number -> databases it reads.
SERVICE_DATABASES = {
    1: ["dan_cu", "kham_chua_benh", "dang_ky_doanh_nghiep"],
    5: ["dan_cu", "dat_dai"],
    12: ["dan_cu", "giay_phep_lai_xe"],
    20: ["dang_ky_doanh_nghiep"],
    22: ["dan_cu", "khach_hang_evn"],
}


def build_catalog() -> Catalog:
    owner = Owner(code="bo_thu_nghiem", name="Bộ Thử nghiệm", name_en="Test ministry")
    databases = tuple(
        NationalDatabase(
            code=code,
            name=f"CSDL thử nghiệm {code}",
            name_en=f"Test database {code}",
            owner=owner.code,
            record_kind="bản ghi",
            signed=code not in UNSIGNED_DATABASES,
            fields=tuple(fields),
        )
        for code, fields in DATABASE_FIELDS.items()
    )
    services = tuple(
        Service(
            number=number,
            name=f"Dịch vụ thử nghiệm {number}",
            name_en=f"Test service {number}",
            managing_body=owner.code,
            end_to_end_per_appendix=True,
            data_owners=(owner.code,),
            databases=tuple(
                ServiceDatabase(database=code, wording_in_appendix=code, required_fields=()) for code in codes
            ),
            tasks=(),
        )
        for number, codes in SERVICE_DATABASES.items()
    )
    return Catalog(owners=(owner,), databases=databases, services=services)


@pytest.fixture(scope="session")
def stub_catalog() -> Catalog:
    return build_catalog()


@pytest.fixture(scope="session")
def stub_pki() -> LocalPki:
    return LocalPki.generate(KeyAlgorithm.ECDSA_P256)


def make_settings(**overrides: Any) -> StubSettings:
    values: dict[str, Any] = {
        "credentials": ClientCredentials(CLIENT_ID, CLIENT_SECRET),
        "admin_token": ADMIN_TOKEN,
        "host": "127.0.0.1",
        "port": 0,
        "total": TEST_TOTAL,
    }
    values.update(overrides)
    return StubSettings(**values)


@dataclass
class StubClient:
    """Talks to one running stub server the way the monitor does."""

    server: StubServer
    session: requests.Session

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def port_url(self, database_code: str) -> str:
        return self.server.port_map()[database_code]

    def token(self, base_url: str | None = None) -> str:
        response = self.session.post(
            f"{base_url or self.base_url}/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def headers(self, service: int = 1, token: str | None = None, request_id: str | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token or self.token()}",
            "X-Request-ID": request_id or uuid.uuid4().hex,
            "X-Service-Code": service_code(service),
            "X-Agency-Code": "VPCP",
        }

    def records(
        self,
        database_code: str,
        page: int = 1,
        limit: int = 100,
        service: int = 1,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = 30,
        **kwargs: Any,
    ) -> requests.Response:
        return self.session.get(
            f"{base_url or self.base_url}/api/v1/{database_code}/records",
            params={"page": page, "limit": limit},
            headers=self.headers(service, token),
            timeout=timeout,
            **kwargs,
        )

    def admin(self, method: str, path: str, token: str | None = ADMIN_TOKEN, **kwargs: Any) -> requests.Response:
        headers = {"X-Admin-Token": token} if token is not None else {}
        return self.session.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def set_scenario(self, database_code: str, entry: dict[str, Any]) -> None:
        response = self.admin("PUT", f"/admin/scenarios/{database_code}", json=entry)
        assert response.status_code == 200, response.text

    def reset(self) -> None:
        response = self.admin("POST", "/admin/reset")
        assert response.status_code == 200, response.text


VALID_SCENARIO = """
name: test-mixed
description: Kịch bản thử nghiệm
databases:
  dat_dai:
    fault: refused
  dan_cu:
    completeness:
      - fields: [EMAIL]
        missing_share: 0.5
        style: "null"
  dang_ky_doanh_nghiep:
    deny_services: [20]
"""

INVALID_SCENARIO = """
name: test-bad
databases:
  dan_cu:
    fault: sometimes
  khong_co:
    fault: empty
"""


@pytest.fixture(scope="session")
def scenarios_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("scenarios")
    (directory / "test-mixed.yaml").write_text(VALID_SCENARIO, encoding="utf-8")
    (directory / "test-bad.yaml").write_text(INVALID_SCENARIO, encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def stub_server(stub_catalog: Catalog, stub_pki: LocalPki, scenarios_dir: Path) -> Iterator[StubServer]:
    settings = make_settings(scenarios_dir=scenarios_dir)
    background = BackgroundStubServer(StubServer(stub_catalog, settings, pki=stub_pki))
    server = background.start()
    try:
        yield server
    finally:
        background.stop()


@pytest.fixture()
def stub(stub_server: StubServer) -> Iterator[StubClient]:
    """A client of the shared server; every database is healthy before and after the test."""
    session = requests.Session()
    session.trust_env = False
    client = StubClient(stub_server, session)
    client.reset()
    try:
        yield client
    finally:
        client.reset()
        session.close()
