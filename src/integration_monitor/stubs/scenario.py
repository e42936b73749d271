"""Scenario files: how each stub database misbehaves.

A scenario lists databases and, for each, blanked fields (completeness), a signature fault,
a connection or payload fault, services denied access, and whether the fault flaps. Files
live in ``include/scenarios/<name>.yaml``; databases not listed are healthy.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from integration_monitor.catalog.models import Catalog

SCENARIOS_ENV = "INTEGRATION_MONITOR_SCENARIOS"
DEFAULT_SCENARIO = "appendix-2025"

_SCENARIO_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Renamed fields must stay valid XML element names, because health claims are signed as XML.
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class Fault(StrEnum):
    NONE = "none"
    REFUSED = "refused"
    SLOW = "slow"
    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    MAINTENANCE_HTML = "maintenance_html"
    MALFORMED_JSON = "malformed_json"
    TRUNCATED = "truncated"
    OVERSIZED = "oversized"
    WRONG_CHARSET = "wrong_charset"
    EMPTY = "empty"
    SCHEMA_DRIFT = "schema_drift"
    DUPLICATES = "duplicates"


class BlankStyle(StrEnum):
    NULL = "null"
    EMPTY = "empty"
    WHITESPACE = "whitespace"
    FILLER = "filler"
    MIXED = "mixed"


class SignatureMode(StrEnum):
    NONE = "none"
    MISSING = "missing"
    MALFORMED = "malformed"
    INVALID = "invalid"
    UNKNOWN_CA = "unknown_ca"
    EXPIRED = "expired"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)



class CompletenessRule(_Strict):
    fields: tuple[str, ...] = Field(min_length=1)
    missing_share: float = Field(ge=0.0, le=1.0)
    style: BlankStyle = BlankStyle.MIXED


class SignatureRule(_Strict):
    mode: SignatureMode = SignatureMode.NONE
    share: float = Field(default=1.0, ge=0.0, le=1.0)


class FaultOptions(_Strict):
    delay_seconds: float = Field(default=120.0, ge=0.0, le=3600.0)
    retry_after: int = Field(default=30, ge=0, le=86400)
    rename: dict[str, str] = Field(default_factory=dict)
    drop: tuple[str, ...] = ()
    duplicate_share: float = Field(default=0.1, ge=0.0, le=1.0)
    size_mb: float = Field(default=64.0, gt=0.0, le=1024.0)

    @field_validator("rename")
    @classmethod
    def _check_new_names(cls, rename: dict[str, str]) -> dict[str, str]:
        for old, new in rename.items():
            if not _FIELD_NAME.match(new):
                raise ValueError(f"new name {new!r} for {old} must be letters, digits and underscores")
        if len(set(rename.values())) != len(rename):
            raise ValueError("two fields are renamed to the same name")
        return rename


class DatabaseScenario(_Strict):
    completeness: tuple[CompletenessRule, ...] = ()
    signature: SignatureRule = SignatureRule()
    fault: Fault = Fault.NONE
    flapping: bool = False
    fault_options: FaultOptions = FaultOptions()
    deny_services: tuple[int, ...] = ()

    @property
    def is_healthy(self) -> bool:
        return self == HEALTHY


HEALTHY = DatabaseScenario()


class Scenario(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    databases: dict[str, DatabaseScenario] = Field(default_factory=dict)


class ScenarioError(ValueError):
    """Scenario input that cannot be used; ``problems`` name the database and key of each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def describe_validation_error(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[str]:
    """Turn pydantic errors into ``databases.dat_dai.fault: <message> (got 'x')`` lines."""
    problems = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in (*prefix, *item["loc"])) or "scenario"
        message = item["msg"]
        received = item.get("input")
        if item["type"] != "missing" and isinstance(received, (str, int, float, bool)) and len(repr(received)) <= 60:
            message = f"{message} (got {received!r})"
        problems.append(f"{location}: {message}")
    return problems


def parse_scenario(raw: Any) -> Scenario:
    """Validate a whole scenario document; raise :class:`ScenarioError` on bad input."""
    if not isinstance(raw, dict):
        raise ScenarioError([f"scenario: expected a mapping with name and databases, got {type(raw).__name__}"])
    try:
        return Scenario.model_validate(raw)
    except ValidationError as error:
        raise ScenarioError(describe_validation_error(error)) from error


def parse_database_scenario(database_code: str, raw: Any) -> DatabaseScenario:
    """Validate one database's scenario entry; raise :class:`ScenarioError` on bad input."""
    if raw is None:
        return HEALTHY
    if not isinstance(raw, dict):
        raise ScenarioError([f"databases.{database_code}: expected a mapping, got {type(raw).__name__}"])
    try:
        return DatabaseScenario.model_validate(raw)
    except ValidationError as error:
        raise ScenarioError(describe_validation_error(error, ("databases", database_code))) from error


def check_against_catalog(scenario: Scenario, catalog: Catalog) -> None:
    """Raise :class:`ScenarioError` if the scenario names databases, fields or services the catalog lacks."""
    problems: list[str] = []
    for database_code, entry in scenario.databases.items():
        problems.extend(_catalog_problems(database_code, entry, catalog))
    if problems:
        raise ScenarioError(problems)


def check_entry_against_catalog(database_code: str, entry: DatabaseScenario, catalog: Catalog) -> None:
    problems = _catalog_problems(database_code, entry, catalog)
    if problems:
        raise ScenarioError(problems)


def _catalog_problems(database_code: str, entry: DatabaseScenario, catalog: Catalog) -> list[str]:
    where = f"databases.{database_code}"
    try:
        database = catalog.database(database_code)
    except KeyError:
        known = ", ".join(db.code for db in catalog.databases)
        return [f"{where}: unknown database code (known: {known})"]

    field_codes = {spec.code for spec in database.fields}
    problems = []
    for index, rule in enumerate(entry.completeness):
        for code in rule.fields:
            if code not in field_codes:
                problems.append(f"{where}.completeness.{index}.fields: {code} is not a field of {database_code}")

    if entry.signature.mode != SignatureMode.NONE and not database.signed:
        problems.append(f"{where}.signature: {database_code} is not signed in the catalog, so no signature can be broken")

    options = entry.fault_options
    for old, new in options.rename.items():
        if old not in field_codes:
            problems.append(f"{where}.fault_options.rename: {old} is not a field of {database_code}")
        elif new in field_codes and new not in options.rename:
            problems.append(f"{where}.fault_options.rename: {new} already is a field of {database_code}")
    for code in options.drop:
        if code not in field_codes:
            problems.append(f"{where}.fault_options.drop: {code} is not a field of {database_code}")

    service_numbers = {service.number for service in catalog.services}
    for number in entry.deny_services:
        if number not in service_numbers:
            problems.append(f"{where}.deny_services: service {number} is not in the catalog")
    return problems


def default_scenarios_dir() -> Path:
    """Return ``include/scenarios`` of the repository, or ``$INTEGRATION_MONITOR_SCENARIOS``."""
    configured = os.environ.get(SCENARIOS_ENV)
    if configured:
        return Path(configured)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "include").is_dir():
            return parent / "include" / "scenarios"
    return Path.cwd() / "include" / "scenarios"


def scenario_path(name_or_path: str, scenarios_dir: Path | None = None) -> Path:
    """Resolve a scenario name such as ``appendix-2025`` or a path to a YAML file."""
    looks_like_path = "/" in name_or_path or name_or_path.endswith((".yaml", ".yml"))
    if looks_like_path:
        return Path(name_or_path)
    if not _SCENARIO_NAME.match(name_or_path):
        raise ScenarioError([f"scenario name {name_or_path!r} is invalid: use lower-case letters, digits, - and _"])
    return (scenarios_dir or default_scenarios_dir()) / f"{name_or_path}.yaml"


def load_scenario(name_or_path: str, catalog: Catalog, scenarios_dir: Path | None = None) -> Scenario:
    """Read, validate and check a scenario file against the catalog.

    Raises ``FileNotFoundError`` if the file does not exist and :class:`ScenarioError` if it
    is not a valid scenario.
    """
    path = scenario_path(name_or_path, scenarios_dir)
    if not path.is_file():
        raise FileNotFoundError(f"scenario file {path} not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ScenarioError([f"{path}: invalid YAML: {error}"]) from error
    try:
        scenario = parse_scenario(raw)
        check_against_catalog(scenario, catalog)
    except ScenarioError as error:
        raise ScenarioError([f"{path}: {problem}" for problem in error.problems]) from error
    return scenario
