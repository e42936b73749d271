"""Closed lists and number formats behind the synthetic record values.

Every value here is invented or public reference data (code lists); none describes a real
person. The 2025 provinces and wards come from the ``vietnam-provinces`` package.
"""

from __future__ import annotations

import datetime as dt
import random
from functools import lru_cache

from vietnam_provinces import Province, Ward

# Records describe the world as of this day, so that a record does not change with the clock.
REFERENCE_DATE = dt.date(2025, 9, 30)

# ICD-10 codes common in outpatient and inpatient claims.
ICD10_CODES = (
    "A09", "B34.9", "E11.9", "E78.5", "I10", "I20.9", "I63.9", "J00", "J02.9", "J06.9",
    "J18.9", "J20.9", "J44.9", "K21.0", "K29.7", "K35.8", "K80.2", "M17.9", "M54.5", "N18.9",
    "N39.0", "O80", "R50.9", "S52.5", "S82.2", "Z00.0", "Z34.9", "C34.9", "D50.9", "H25.9",
)  # fmt: skip

# Driving licence classes of the 2024 road traffic law, as FieldFormat.LICENCE_CLASS names them.
LICENCE_CLASSES = ("A1", "A", "B1", "B", "C1", "C", "D1", "D2", "D", "BE", "C1E", "CE", "D1E", "D2E", "DE")

RELIGIONS = ("Không", "Phật giáo", "Công giáo", "Tin lành", "Cao Đài", "Phật giáo Hòa Hảo", "Hồi giáo")
RELIGION_WEIGHTS = (80, 9, 7, 1.5, 1.2, 1, 0.3)

BLOOD_GROUPS = ("O", "A", "B", "AB")
BLOOD_GROUP_WEIGHTS = (42, 21, 31, 6)

MARITAL_STATUSES = ("Chưa kết hôn", "Đã kết hôn", "Ly hôn", "Góa")

NATIONALITIES = ("VN", "LA", "KH", "CN", "KR", "JP", "US", "FR")

# Mobile number prefixes of the Vietnamese operators.
MOBILE_PREFIXES = (
    "032", "033", "034", "035", "036", "037", "038", "039", "070", "076", "077", "078", "079",
    "081", "082", "083", "084", "085", "086", "088", "089", "090", "091", "093", "094", "096",
    "097", "098",
)  # fmt: skip

# Health-insurance beneficiary groups (first two characters of a BHYT card) and benefit level.
BHYT_GROUPS_BY_AGE = (
    (6, "TE", "1"),  # children under 6
    (18, "HS", "4"),  # pupils
    (22, "SV", "4"),  # students
    (60, None, "4"),  # working age: see BHYT_WORKING_GROUPS
    (200, "HT", "3"),  # pensioners
)
BHYT_WORKING_GROUPS = ("DN", "HC", "GD", "CN", "HN")

# First letters of EVN customer codes: P + a letter per power corporation.
EVN_UNIT_LETTERS = "ABCDEHKMNPQ"

DOCUMENT_SUFFIXES = ("QĐ-UBND", "GCN", "TB", "HTTP", "QĐ-BHXH", "GXN")

FILLER_VALUES = ("N/A", "-")

# Weights of the mod-11 check digit of a 10-digit Vietnamese tax code.
TAX_CODE_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)


@lru_cache(maxsize=1)
def provinces() -> tuple[Province, ...]:
    return tuple(sorted(Province.iter_all(), key=lambda province: int(province.code)))


@lru_cache(maxsize=1)
def wards_by_province() -> dict[int, tuple[Ward, ...]]:
    grouped: dict[int, list[Ward]] = {}
    for ward in Ward.iter_all():
        grouped.setdefault(int(ward.province_code), []).append(ward)
    return {code: tuple(sorted(wards, key=lambda ward: int(ward.code))) for code, wards in grouped.items()}


def province_code_text(province: Province) -> str:
    return f"{int(province.code):02d}"


def ward_code_text(ward: Ward) -> str:
    return f"{int(ward.code):05d}"


def personal_id(province_code: int, sex: int, birth_date: dt.date, rng: random.Random) -> str:
    """Return a 12-digit personal ID: birth province (3), century and sex (1), year (2), serial (6).

    The century and sex digit is 0/1 for men/women born 1900-1999, 2/3 for 2000-2099, and so on
    for every later century.
    """
    if not 1900 <= birth_date.year <= 2399:
        raise ValueError(f"personal IDs encode birth years 1900..2399, got {birth_date.year}")
    century_digit = 2 * (birth_date.year // 100 - 19) + (0 if sex == 1 else 1)
    return f"{province_code:03d}{century_digit}{birth_date.year % 100:02d}{rng.randrange(10**6):06d}"


def tax_code(rng: random.Random) -> str:
    """Return a 10-digit tax code whose last digit is its mod-11 check digit."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        digits[0] = rng.randint(0, 8)
        remainder = 10 - sum(d * w for d, w in zip(digits, TAX_CODE_WEIGHTS, strict=True)) % 11
        if remainder < 10:
            return "".join(map(str, digits)) + str(remainder)


def digits(rng: random.Random, count: int) -> str:
    return f"{rng.randrange(10**count):0{count}d}"


def money_vnd(rng: random.Random) -> int:
    # Log-uniform between 50 thousand and 50 million dong, rounded to a thousand.
    amount = 10 ** rng.uniform(4.7, 7.7)
    return int(round(amount / 1000.0)) * 1000
