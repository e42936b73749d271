"""Synthetic records built from a database's field catalog.

Record ``i`` of database ``d`` depends only on the seed, ``d`` and ``i``: its random source
is seeded from their hash, and dates are relative to a fixed reference day. So a page is the
same across restarts and machines with the same Faker and ``vietnam-provinces`` versions.

Fields about people follow one person per record (the subject), with relatives picked out of
the field code: ``HO_TEN_CHA`` is the father's name and ``NGAY_SINH_ME`` the mother's birth
date. The subject's sex, birth date, birth province and personal ID agree with each other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from faker import Faker
from vietnam_provinces import Province, Ward

from integration_monitor.catalog.models import FieldFormat, FieldSpec, FieldType, NationalDatabase
from integration_monitor.signatures import RECORD_ID_FIELD
from integration_monitor.stubs import values

MALE = 1
FEMALE = 2
EARLIEST_BIRTH_DATE = dt.date(1900, 1, 1)

# Field-code words that point at a person other than the record's subject.
# Any other NGUOI_<word> (người ...: signer, recipient, guardian ...) is a person of its own.
_PAIR_RELATIONS = {"VO_CHONG": "spouse", "CHU_HO": "head", "DAI_DIEN": "representative", "BAC_SI": "official"}
_WORD_RELATIONS = {
    "CHA": "father",
    "BO": "father",
    "ME": "mother",
    "VO": "wife",
    "CHONG": "husband",
    "CON": "child",
    "NDD": "representative",
    "NYC": "applicant",
    "BS": "official",
    "CANBO": "official",
}
_CANARY_PREFIX = re.compile(r"^[A-Za-z0-9_-]{4,32}$")
_END_WORDS = {"DEN", "RA", "HET", "HETHAN", "KT", "KETTHUC"}
_ISSUE_WORDS = {"CAP", "CAPMOI", "DANGKY", "DK"}


@dataclass(frozen=True)
class Person:
    sex: int
    birth_date: dt.date
    birth_province: int
    name: str
    personal_id: str
    legacy_id: str
    social_insurance_code: str


@dataclass
class _RecordContext:
    database: NationalDatabase
    faker: Faker
    rng: random.Random
    subject: Person
    residence: Province
    residence_ward: Ward
    event_date: dt.date
    relatives: dict[str, Person] = field(default_factory=dict)
    current_province: Province | None = None
    shared: dict[str, Any] = field(default_factory=dict)


class RecordGenerator:
    """Deterministic synthetic records for the databases of a catalog.

    With ``canary_prefix`` set, every personal field's value becomes a marker text: the prefix,
    the record index in six digits, and the value it replaces. A test that finds the prefix
    followed by digits anywhere outside the records has found a leak of personal data.
    """

    def __init__(self, seed: int, canary_prefix: str | None = None) -> None:
        if canary_prefix is not None and not _CANARY_PREFIX.match(canary_prefix):
            raise ValueError(f"canary prefix {canary_prefix!r} must be 4 to 32 letters, digits, '_' or '-'")
        self.seed = seed
        self.canary_prefix = canary_prefix
        self._faker = Faker("vi_VN")
        self._provinces = values.provinces()
        self._wards = values.wards_by_province()
        self._makers: dict[FieldFormat, Callable[[_RecordContext, FieldSpec], Any]] = {
            FieldFormat.PERSONAL_ID: lambda ctx, spec: self._person(ctx, spec).personal_id,
            FieldFormat.CMND_9: lambda ctx, spec: self._person(ctx, spec).legacy_id,
            FieldFormat.PERSON_NAME: self._name,
            FieldFormat.SEX: lambda ctx, spec: self._person(ctx, spec).sex,
            FieldFormat.ISO_DATE: self._date,
            FieldFormat.ISO_DATETIME: self._datetime,
            FieldFormat.ETHNICITY_CODE: self._ethnicity,
            FieldFormat.RELIGION: lambda ctx, spec: ctx.rng.choices(values.RELIGIONS, values.RELIGION_WEIGHTS)[0],
            FieldFormat.NATIONALITY_CODE: self._nationality,
            FieldFormat.BLOOD_GROUP: lambda ctx, spec: ctx.rng.choices(values.BLOOD_GROUPS, values.BLOOD_GROUP_WEIGHTS)[0],
            FieldFormat.MARITAL_STATUS: self._marital_status,
            FieldFormat.PROVINCE_CODE: self._province_code,
            FieldFormat.WARD_CODE: self._ward_code,
            FieldFormat.DISTRICT_CODE: self._district_code,
            FieldFormat.ADDRESS: self._address,
            FieldFormat.PHONE: lambda ctx, spec: ctx.rng.choice(values.MOBILE_PREFIXES) + values.digits(ctx.rng, 7),
            FieldFormat.EMAIL: self._email,
            FieldFormat.ICD10: lambda ctx, spec: ctx.rng.choice(values.ICD10_CODES),
            FieldFormat.BHYT_CARD: self._health_insurance_card,
            FieldFormat.BHXH_CODE: lambda ctx, spec: self._person(ctx, spec).social_insurance_code,
            FieldFormat.HEALTH_FACILITY_CODE: self._health_facility,
            FieldFormat.ENTERPRISE_CODE: lambda ctx, spec: self._shared(ctx, "enterprise", values.tax_code),
            FieldFormat.TAX_CODE: self._tax_code,
            FieldFormat.LICENCE_CLASS: lambda ctx, spec: ctx.rng.choice(values.LICENCE_CLASSES),
            FieldFormat.LICENCE_NUMBER: self._licence_number,
            FieldFormat.PASSPORT_NUMBER: lambda ctx, spec: ctx.rng.choice("CP") + values.digits(ctx.rng, 7),
            FieldFormat.DOCUMENT_NUMBER: self._document_number,
            FieldFormat.MONEY_VND: lambda ctx, spec: values.money_vnd(ctx.rng),
            FieldFormat.QUANTITY: lambda ctx, spec: ctx.rng.randint(0, 30),
            FieldFormat.CODE: self._code,
            FieldFormat.TEXT: self._text,
            FieldFormat.EVN_CUSTOMER_CODE: self._evn_customer_code,
            FieldFormat.LAND_PARCEL: lambda ctx, spec: f"{ctx.rng.randint(1, 120)}/{ctx.rng.randint(1, 2500)}",
            FieldFormat.YEAR_MONTH: lambda ctx, spec: self._event_date(ctx, spec).strftime("%Y-%m"),
        }
        missing = set(FieldFormat) - set(self._makers)
        if missing:
            raise RuntimeError(f"no value generator for formats: {sorted(missing)}")

    def record_id(self, database_code: str, index: int) -> str:
        """Return the opaque ``_id`` of a record: a UUID derived from seed, database and index."""
        digest = hashlib.sha256(f"{self.seed}|{database_code}|{index}|id".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def record(self, database: NationalDatabase, index: int) -> dict[str, Any]:
        """Return record ``index`` (0-based) of ``database``: ``_id`` then one key per catalog field."""
        digest = hashlib.sha256(f"{self.seed}|{database.code}|{index}|record".encode()).digest()
        self._faker.seed_instance(int.from_bytes(digest[:8], "big"))
        rng = self._faker.random

        residence = rng.choice(self._provinces)
        context = _RecordContext(
            database=database,
            faker=self._faker,
            rng=rng,
            subject=self._new_person(rng, rng.choice((MALE, FEMALE)), _random_birth_date(rng, 0, 90)),
            residence=residence,
            residence_ward=rng.choice(self._wards[int(residence.code)]),
            event_date=values.REFERENCE_DATE - dt.timedelta(days=rng.randint(0, 5 * 365)),
        )

        record: dict[str, Any] = {RECORD_ID_FIELD: self.record_id(database.code, index)}
        for spec in database.fields:
            if spec.type == FieldType.BOOLEAN:
                record[spec.code] = rng.random() < 0.5
                continue
            record[spec.code] = _coerce(self._makers[spec.format](context, spec), spec.type)
        if self.canary_prefix is not None:
            self._mark_personal_fields(database, record, index)
        return record

    def _mark_personal_fields(self, database: NationalDatabase, record: dict[str, Any], index: int) -> None:
        marker = f"{self.canary_prefix}{index:06d}"
        for spec in database.fields:
            if spec.personal:
                value = record[spec.code]
                record[spec.code] = marker if value is None else f"{marker} {value}"

    # --- people ---------------------------------------------------------------------------

    def _new_person(self, rng: random.Random, sex: int, birth_date: dt.date) -> Person:
        birth_province = int(rng.choice(self._provinces).code)
        return Person(
            sex=sex,
            birth_date=birth_date,
            birth_province=birth_province,
            name=self._person_name(sex),
            personal_id=values.personal_id(birth_province, sex, birth_date, rng),
            legacy_id=rng.choice("0123") + values.digits(rng, 8),
            social_insurance_code=f"{birth_province:02d}" + values.digits(rng, 8),
        )

    def _person_name(self, sex: int) -> str:
        # Vietnamese order: family name, middle name, given name.
        faker = self._faker
        family = faker.last_name()
        if sex == MALE:
            middle = faker.random.choice(("Văn", "Văn", "Đức", "Quang", "Minh", "Hữu", "Công", "Xuân"))
            given = faker.first_name_male()
        else:
            middle = faker.random.choice(("Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Hồng"))
            given = faker.first_name_female()
        return f"{family} {middle} {given}"

    def _name(self, context: _RecordContext, spec: FieldSpec) -> str:
        # Split name fields: HO (family name), CHU_DEM (middle name), TEN (given name).
        name = self._person(context, spec).name
        family, _, rest = name.partition(" ")
        middle, _, given = rest.rpartition(" ")
        part = _name_part(spec.code)
        if part == "family":
            return family
        if part == "middle":
            return middle
        if part == "given":
            return given
        return name

    def _person(self, context: _RecordContext, spec: FieldSpec) -> Person:
        relation = _relation(spec.code)
        if relation is None:
            return context.subject
        if relation not in context.relatives:
            context.relatives[relation] = self._relative(context, relation)
        return context.relatives[relation]

    def _relative(self, context: _RecordContext, relation: str) -> Person:
        rng = context.rng
        subject = context.subject
        if relation in ("father", "mother"):
            sex = MALE if relation == "father" else FEMALE
            # Personal IDs encode births from 1900 on, so the oldest parents are born in 1900.
            birth = max(_shift_years(subject.birth_date, -rng.randint(20, 38), rng), EARLIEST_BIRTH_DATE)
        elif relation in ("spouse", "wife", "husband"):
            if relation == "spouse":
                sex = FEMALE if subject.sex == MALE else MALE
            else:
                sex = FEMALE if relation == "wife" else MALE
            birth = max(_shift_years(subject.birth_date, rng.randint(-6, 6), rng), EARLIEST_BIRTH_DATE)
        elif relation == "child":
            sex = rng.choice((MALE, FEMALE))
            birth = min(_shift_years(subject.birth_date, rng.randint(20, 38), rng), values.REFERENCE_DATE)
        else:
            sex = rng.choice((MALE, FEMALE))
            birth = _random_birth_date(rng, 25, 65)
        return self._new_person(rng, sex, birth)

    # --- dates ----------------------------------------------------------------------------

    def _event_date(self, context: _RecordContext, spec: FieldSpec) -> dt.date:
        words = _words(spec.code)
        if words & _END_WORDS:
            return context.event_date + dt.timedelta(days=context.rng.randint(1, 60))
        if words & _ISSUE_WORDS:
            return context.event_date - dt.timedelta(days=context.rng.randint(0, 3650))
        return context.event_date - dt.timedelta(days=context.rng.randint(0, 7))

    def _date(self, context: _RecordContext, spec: FieldSpec) -> str:
        if "SINH" in _words(spec.code):
            return self._person(context, spec).birth_date.isoformat()
        return self._event_date(context, spec).isoformat()

    def _datetime(self, context: _RecordContext, spec: FieldSpec) -> str:
        day = self._event_date(context, spec)
        moment = dt.datetime(day.year, day.month, day.day, context.rng.randint(6, 21), context.rng.randrange(60))
        return moment.isoformat() + "+07:00"

    # --- codes ----------------------------------------------------------------------------

    def _text(self, context: _RecordContext, spec: FieldSpec) -> str:
        # A TEXT field named TEN_... is a name of an organisation; other free text is a sentence.
        if "TEN" in _words(spec.code):
            return context.faker.company()
        return context.faker.sentence(nb_words=6)

    def _ethnicity(self, context: _RecordContext, spec: FieldSpec) -> str:
        # About 85 % of the population is Kinh (code 01).
        return self._shared(context, "ethnicity", lambda rng: "01" if rng.random() < 0.85 else f"{rng.randint(2, 54):02d}")

    def _nationality(self, context: _RecordContext, spec: FieldSpec) -> str:
        return "VN" if context.rng.random() < 0.98 else context.rng.choice(values.NATIONALITIES[1:])

    def _marital_status(self, context: _RecordContext, spec: FieldSpec) -> Any:
        age = (values.REFERENCE_DATE - context.subject.birth_date).days // 365
        if age < 18:
            index = 0
        else:
            index = context.rng.choices(range(len(values.MARITAL_STATUSES)), (25, 65, 6, 4))[0]
        if spec.type == FieldType.INTEGER:
            return index + 1
        return values.MARITAL_STATUSES[index]

    def _province_code(self, context: _RecordContext, spec: FieldSpec) -> str:
        if "SINH" in _words(spec.code):
            province = Province.from_code(self._person(context, spec).birth_province)
        elif context.current_province is None or context.rng.random() < 0.7:
            province = context.residence
        else:
            province = context.rng.choice(self._provinces)
        context.current_province = province
        return values.province_code_text(province)

    def _ward_code(self, context: _RecordContext, spec: FieldSpec) -> str:
        province = context.current_province or context.residence
        if province == context.residence:
            return values.ward_code_text(context.residence_ward)
        return values.ward_code_text(context.rng.choice(self._wards[int(province.code)]))

    def _district_code(self, context: _RecordContext, spec: FieldSpec) -> str | None:
        # Districts were abolished on 1 July 2025, so most current records have none.
        if context.rng.random() < 0.8:
            return None
        return f"{context.rng.randint(1, 973):03d}"

    def _address(self, context: _RecordContext, spec: FieldSpec) -> str:
        detail = context.faker.street_address()
        has_ward_field = any(other.format == FieldFormat.WARD_CODE for other in context.database.fields)
        if has_ward_field:
            return detail
        return f"{detail}, {context.residence_ward.name}, {context.residence.name}"

    def _email(self, context: _RecordContext, spec: FieldSpec) -> str:
        # Reserved example domains, so that no generated address can reach a real mailbox.
        name = self._person(context, spec).name
        ascii_name = unicodedata.normalize("NFKD", name.replace("Đ", "D").replace("đ", "d"))
        slug = "".join(char for char in ascii_name.lower() if char.isascii() and char.isalnum())
        domain = context.rng.choice(("example.com", "example.net", "example.org"))
        return f"{slug}{context.rng.randint(1, 999)}@{domain}"

    def _health_insurance_card(self, context: _RecordContext, spec: FieldSpec) -> str:
        # Group (2 letters), benefit level (1 digit), province (2 digits), social insurance code (10).
        person = self._person(context, spec)
        age = (values.REFERENCE_DATE - person.birth_date).days // 365
        for age_limit, group, level in values.BHYT_GROUPS_BY_AGE:
            if age < age_limit:
                chosen_group = group or context.rng.choice(values.BHYT_WORKING_GROUPS)
                return f"{chosen_group}{level}{int(context.residence.code):02d}{person.social_insurance_code}"
        raise AssertionError("BHYT_GROUPS_BY_AGE covers every age")

    def _health_facility(self, context: _RecordContext, spec: FieldSpec) -> str:
        return self._shared(context, "facility", lambda rng: f"{int(context.residence.code):02d}{rng.randint(1, 300):03d}")

    def _tax_code(self, context: _RecordContext, spec: FieldSpec) -> str:
        base = self._shared(context, "enterprise", values.tax_code)
        if context.rng.random() < 0.2:
            return base + f"{context.rng.randint(1, 30):03d}"
        return base

    def _licence_number(self, context: _RecordContext, spec: FieldSpec) -> str:
        return f"{int(context.residence.code):02d}" + values.digits(context.rng, 10)

    def _document_number(self, context: _RecordContext, spec: FieldSpec) -> str:
        year = self._event_date(context, spec).year
        return f"{context.rng.randint(1, 9999)}/{year}/{context.rng.choice(values.DOCUMENT_SUFFIXES)}"

    def _code(self, context: _RecordContext, spec: FieldSpec) -> Any:
        if spec.type in (FieldType.INTEGER, FieldType.NUMBER):
            return context.rng.randint(1, 9)
        return f"{context.rng.randint(1, 20):02d}"

    def _evn_customer_code(self, context: _RecordContext, spec: FieldSpec) -> str:
        letter = context.rng.choice(values.EVN_UNIT_LETTERS)
        return f"P{letter}{context.rng.randint(1, 99):02d}" + values.digits(context.rng, 9)

    @staticmethod
    def _shared(context: _RecordContext, key: str, make: Callable[[random.Random], Any]) -> Any:
        # One value per record for things that several fields repeat (enterprise code, facility).
        if key not in context.shared:
            context.shared[key] = make(context.rng)
        return context.shared[key]


@lru_cache(maxsize=4096)
def _words(field_code: str) -> frozenset[str]:
    return frozenset(field_code.split("_"))


@lru_cache(maxsize=4096)
def _name_part(field_code: str) -> str | None:
    words = field_code.split("_")
    before = words[-2] if len(words) > 1 else None
    if words[-1] == "DEM":
        return "middle"
    if words[-1] == "HO" and before != "CHU":
        return "family"
    if words[-1] == "TEN" and before not in ("HO", "VA"):
        return "given"
    return None


@lru_cache(maxsize=4096)
def _relation(field_code: str) -> str | None:
    words = field_code.split("_")
    for first, second in zip(words, words[1:]):
        relation = _PAIR_RELATIONS.get(f"{first}_{second}")
        if relation is not None:
            return relation
    for first, second in zip(words, words[1:]):
        if first == "NGUOI":
            return f"NGUOI_{second}"
    for word in words:
        relation = _WORD_RELATIONS.get(word)
        if relation is not None:
            return relation
    return None


def _random_birth_date(rng: random.Random, min_age: int, max_age: int) -> dt.date:
    days = rng.randint(min_age * 365, max_age * 365 + 364)
    return values.REFERENCE_DATE - dt.timedelta(days=days)


def _shift_years(day: dt.date, years: int, rng: random.Random) -> dt.date:
    return day + dt.timedelta(days=years * 365 + rng.randint(-180, 180))


def _coerce(value: Any, field_type: FieldType) -> Any:
    if value is None:
        return None
    if field_type == FieldType.INTEGER and isinstance(value, str) and value.isdigit():
        return int(value)
    if field_type == FieldType.NUMBER and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if field_type in (FieldType.STRING, FieldType.DATE, FieldType.DATETIME) and isinstance(value, (int, float)):
        return str(value)
    return value
