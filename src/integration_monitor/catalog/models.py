"""Typed model of the appendix catalog kept in ``include/appendix_data``."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"


class FieldFormat(StrEnum):
    """Value formats that the stub generator and the validators understand."""

    PERSONAL_ID = "personal_id"  # 12-digit số định danh cá nhân: province(3) sex/century(1) year(2) serial(6)
    CMND_9 = "cmnd_9"  # legacy 9-digit identity card number
    PERSON_NAME = "person_name"
    SEX = "sex"  # 1 male, 2 female, 3 unknown (QĐ 130/QĐ-BYT coding)
    ISO_DATE = "iso_date"
    ISO_DATETIME = "iso_datetime"
    ETHNICITY_CODE = "ethnicity_code"  # 2-digit code of the 54 ethnic groups
    RELIGION = "religion"
    NATIONALITY_CODE = "nationality_code"  # ISO 3166-1 alpha-2, VN for Vietnamese
    BLOOD_GROUP = "blood_group"
    MARITAL_STATUS = "marital_status"
    PROVINCE_CODE = "province_code"  # one of the 34 provinces after 1 July 2025
    WARD_CODE = "ward_code"  # ward or commune after 1 July 2025
    DISTRICT_CODE = "district_code"  # pre-2025 district, nullable in current data
    ADDRESS = "address"  # free-text address detail (house number, street, hamlet)
    PHONE = "phone"
    EMAIL = "email"
    ICD10 = "icd10"
    BHYT_CARD = "bhyt_card"  # 15-character health-insurance card number
    BHXH_CODE = "bhxh_code"  # 10-digit social-insurance number
    HEALTH_FACILITY_CODE = "health_facility_code"  # 5-digit mã cơ sở khám chữa bệnh
    ENTERPRISE_CODE = "enterprise_code"  # 10-digit mã số doanh nghiệp (tax code)
    TAX_CODE = "tax_code"  # personal or enterprise tax code, 10 or 13 digits
    LICENCE_CLASS = "licence_class"  # driving licence class under the 2024 road traffic law
    LICENCE_NUMBER = "licence_number"  # 12-digit driving licence number
    PASSPORT_NUMBER = "passport_number"  # one letter and 7 digits
    DOCUMENT_NUMBER = "document_number"  # register, certificate or decision number
    MONEY_VND = "money_vnd"
    QUANTITY = "quantity"
    CODE = "code"  # short code from a closed list owned by the database
    TEXT = "text"  # free text
    EVN_CUSTOMER_CODE = "evn_customer_code"  # 13-character EVN customer code (e.g. PA01000012345)
    LAND_PARCEL = "land_parcel"  # map sheet and parcel number
    YEAR_MONTH = "year_month"


class FieldSource(StrEnum):
    LAW = "law"  # the field is listed in a law or decree
    EXCHANGE_FORMAT = "exchange_format"  # the field is in a published exchange format
    MODELLED = "modelled"  # no public list was found; the field is a plausible model


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Owner(StrictModel):
    code: str
    name: str
    name_en: str


class FieldSpec(StrictModel):
    code: str
    label: str
    label_en: str
    type: FieldType
    format: FieldFormat
    personal: bool
    source: FieldSource
    source_ref: str | None = None
    group: str | None = None


class NationalDatabase(StrictModel):
    code: str
    name: str
    name_en: str
    owner: str
    aliases: tuple[str, ...] = ()
    record_kind: str
    signed: bool = True
    fields: tuple[FieldSpec, ...] = ()

    def field(self, code: str) -> FieldSpec:
        for spec in self.fields:
            if spec.code == code:
                return spec
        raise KeyError(code)


class ServiceDatabase(StrictModel):
    database: str
    field_count_in_appendix: int | None = Field(default=None, ge=1)
    wording_in_appendix: str
    required_fields: tuple[str, ...] = ()


class Task(StrictModel):
    kind: str = "recommendation"
    limitation: str | None = None
    recommendation: str
    responsible: tuple[str, ...]
    deadline: dt.date | None = None
    deadline_text: str | None = None


class Service(StrictModel):
    number: int = Field(ge=1)
    name: str
    name_en: str
    managing_body: str
    end_to_end_per_appendix: bool
    data_owners: tuple[str, ...]
    databases: tuple[ServiceDatabase, ...]
    tasks: tuple[Task, ...]

    def database_codes(self) -> list[str]:
        return [entry.database for entry in self.databases]


class Catalog(StrictModel):
    owners: tuple[Owner, ...]
    databases: tuple[NationalDatabase, ...]
    services: tuple[Service, ...]

    def database(self, code: str) -> NationalDatabase:
        for database in self.databases:
            if database.code == code:
                return database
        raise KeyError(code)

    def service(self, number: int) -> Service:
        for service in self.services:
            if service.number == number:
                return service
        raise KeyError(number)

    def owner(self, code: str) -> Owner:
        for owner in self.owners:
            if owner.code == code:
                return owner
        raise KeyError(code)

    def services_reading(self, database_code: str) -> list[Service]:
        return [s for s in self.services if database_code in s.database_codes()]
