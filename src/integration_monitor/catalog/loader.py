"""Load and validate the appendix catalog from ``include/appendix_data``.

Every problem stops loading with a :class:`CatalogError` naming the file, the entry and
what is wrong, so that a DAG factory can refuse to build DAGs from a broken catalog with
a message an operator can act on.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from integration_monitor.catalog.errors import CatalogError
from integration_monitor.catalog.models import (
    Catalog,
    FieldSpec,
    NationalDatabase,
    Owner,
    Service,
    ServiceDatabase,
)
from integration_monitor.paths import CATALOG_ENV, default_catalog_root, project_root

__all__ = ["CATALOG_ENV", "default_catalog_root", "load_catalog", "load_catalog_cached", "project_root"]


def load_catalog(root: Path | str | None = None) -> Catalog:
    """Read every catalog file under ``root`` and return the validated catalog."""
    root_path = Path(root) if root is not None else default_catalog_root()
    if not root_path.is_dir():
        raise CatalogError(root_path, "catalog", "folder not found")

    owners = _load_owners(root_path / "owners.yaml")
    databases = _load_databases(root_path / "databases.yaml", root_path / "fields", owners)
    required = _load_required_fields(root_path / "service_fields.yaml")
    services = _load_services(root_path / "services.yaml", owners, databases, required)

    _check_required_fields_cover_services(root_path / "service_fields.yaml", required, services)
    return Catalog(owners=tuple(owners.values()), databases=tuple(databases.values()), services=services)


@lru_cache(maxsize=4)
def load_catalog_cached(root: str | None = None) -> Catalog:
    """Load the catalog once per process; the files do not change while a worker runs."""
    return load_catalog(root)


# libyaml's parser reads the catalog about 9 times faster than the pure-Python one (0.17 s
# against 1.5 s for the appendix catalog), and the DAG file reads the catalog at every parse.
_SafeLoaderBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CatalogYamlLoader(_SafeLoaderBase):  # type: ignore[misc, valid-type]
    """A safe YAML loader that keeps dates as text, so that pydantic reports a bad date
    with the entry it belongs to instead of PyYAML raising without context."""


_CatalogYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise CatalogError(path, "file", "file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise CatalogError(path, "file", f"not valid UTF-8 at byte {error.start}") from None
    try:
        return yaml.load(text, Loader=_CatalogYamlLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "file"
        problem = getattr(error, "problem", None) or str(error)
        raise CatalogError(path, where, f"invalid YAML: {problem}") from None


def _section(path: Path, document: Any, key: str) -> Any:
    if not isinstance(document, Mapping) or key not in document:
        raise CatalogError(path, "file", f"missing top-level key '{key}'")
    return document[key]


def _list_section(path: Path, document: Any, key: str) -> list[Any]:
    value = _section(path, document, key)
    if not isinstance(value, list):
        raise CatalogError(path, key, f"expected a list, got {type(value).__name__}")
    return value


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(piece) for piece in item["loc"]) or "entry"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def _nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [_nfc(item) for item in value]
    if isinstance(value, Mapping):
        return {_nfc(key): _nfc(item) for key, item in value.items()}
    return value


def _duplicates(values: Iterable[Any]) -> list[Any]:
    return [value for value, count in Counter(values).items() if count > 1]


def _load_owners(path: Path) -> dict[str, Owner]:
    owners: dict[str, Owner] = {}
    for index, raw in enumerate(_list_section(path, _read_yaml(path), "owners")):
        entry = _entry_name("owners", index, raw, "code")
        try:
            owner = Owner.model_validate(_nfc(raw))
        except ValidationError as error:
            raise CatalogError(path, entry, _describe(error)) from None
        if owner.code in owners:
            raise CatalogError(path, entry, f"duplicate owner code '{owner.code}'")
        owners[owner.code] = owner
    return owners


def _entry_name(section: str, index: int, raw: Any, key: str) -> str:
    if isinstance(raw, Mapping) and raw.get(key) is not None:
        return f"{section}[{index}] ({key} {raw[key]})"
    return f"{section}[{index}]"


def _load_fields(path: Path, database_code: str) -> tuple[FieldSpec, ...]:
    document = _read_yaml(path)
    declared = _section(path, document, "database")
    if declared != database_code:
        raise CatalogError(path, "database", f"file declares '{declared}', expected '{database_code}'")

    fields: list[FieldSpec] = []
    for index, raw in enumerate(_list_section(path, document, "fields")):
        entry = _entry_name("fields", index, raw, "code")
        try:
            fields.append(FieldSpec.model_validate(_nfc(raw)))
        except ValidationError as error:
            raise CatalogError(path, entry, _describe(error)) from None

    for code in _duplicates(spec.code for spec in fields):
        raise CatalogError(path, f"field {code}", "duplicate field code")
    if not fields:
        raise CatalogError(path, "fields", "a database needs at least one field")
    return tuple(fields)


def _load_databases(path: Path, fields_dir: Path, owners: Mapping[str, Owner]) -> dict[str, NationalDatabase]:
    databases: dict[str, NationalDatabase] = {}
    for index, raw in enumerate(_list_section(path, _read_yaml(path), "databases")):
        entry = _entry_name("databases", index, raw, "code")
        if not isinstance(raw, Mapping):
            raise CatalogError(path, entry, "expected a mapping")
        code = raw.get("code")
        if code in databases:
            raise CatalogError(path, entry, f"duplicate database code '{code}'")
        if raw.get("owner") not in owners:
            raise CatalogError(path, entry, f"unknown owner '{raw.get('owner')}' (not in owners.yaml)")

        fields = _load_fields(fields_dir / f"{code}.yaml", str(code)) if isinstance(code, str) else ()
        try:
            database = NationalDatabase.model_validate({**_nfc(dict(raw)), "fields": fields})
        except ValidationError as error:
            raise CatalogError(path, entry, _describe(error)) from None
        databases[database.code] = database
    return databases


def _load_required_fields(path: Path) -> dict[int, dict[str, list[str]]]:
    section = _section(path, _read_yaml(path), "required_fields")
    if not isinstance(section, Mapping):
        raise CatalogError(path, "required_fields", "expected a mapping of service number to databases")

    required: dict[int, dict[str, list[str]]] = {}
    for number, per_database in section.items():
        entry = f"service {number}"
        if not isinstance(number, int):
            raise CatalogError(path, entry, "service number must be an integer")
        if not isinstance(per_database, Mapping):
            raise CatalogError(path, entry, "expected a mapping of database code to field codes")
        required[number] = {}
        for database_code, codes in per_database.items():
            if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
                raise CatalogError(path, f"{entry}, database {database_code}", "expected a list of field codes")
            required[number][str(database_code)] = codes
    return required


def _load_services(
    path: Path,
    owners: Mapping[str, Owner],
    databases: Mapping[str, NationalDatabase],
    required: Mapping[int, Mapping[str, list[str]]],
) -> tuple[Service, ...]:
    services: list[Service] = []
    for index, raw in enumerate(_list_section(path, _read_yaml(path), "services")):
        entry = _entry_name("services", index, raw, "number")
        if not isinstance(raw, Mapping):
            raise CatalogError(path, entry, "expected a mapping")
        raw = dict(_nfc(raw))
        number = raw.get("number")
        raw["databases"] = [
            _service_database(path, entry, item, required.get(number, {}), databases)
            for item in raw.get("databases") or []
        ]
        try:
            service = Service.model_validate(raw)
        except ValidationError as error:
            raise CatalogError(path, entry, _describe(error)) from None
        _check_service_references(path, entry, service, owners)
        services.append(service)

    for number in _duplicates(service.number for service in services):
        raise CatalogError(path, f"service {number}", "duplicate service number")
    return tuple(sorted(services, key=lambda service: service.number))


def _service_database(
    path: Path,
    entry: str,
    item: Any,
    required_for_service: Mapping[str, list[str]],
    databases: Mapping[str, NationalDatabase],
) -> ServiceDatabase:
    if not isinstance(item, Mapping):
        raise CatalogError(path, f"{entry}, databases", "expected a mapping per database")
    code = item.get("database")
    where = f"{entry}, database {code}"
    if code not in databases:
        raise CatalogError(path, where, f"unknown database '{code}' (not in databases.yaml)")

    fields = required_for_service.get(code, [])
    known = {spec.code for spec in databases[code].fields}
    fields_file = "service_fields.yaml"
    for field_code in _duplicates(fields):
        raise CatalogError(path.with_name(fields_file), where, f"duplicate required field '{field_code}'")
    for field_code in fields:
        if field_code not in known:
            raise CatalogError(
                path.with_name(fields_file), where, f"required field '{field_code}' is not in fields/{code}.yaml"
            )

    count = item.get("field_count_in_appendix")
    if count is not None and len(fields) != count:
        raise CatalogError(
            path.with_name(fields_file),
            where,
            f"count mismatch: the appendix gives {count} fields, {len(fields)} are listed",
        )
    if not fields:
        raise CatalogError(path.with_name(fields_file), where, "no required fields listed")

    try:
        return ServiceDatabase.model_validate({**item, "required_fields": tuple(fields)})
    except ValidationError as error:
        raise CatalogError(path, where, _describe(error)) from None


def _check_service_references(path: Path, entry: str, service: Service, owners: Mapping[str, Owner]) -> None:
    if service.managing_body not in owners:
        raise CatalogError(path, entry, f"unknown managing body '{service.managing_body}' (not in owners.yaml)")
    for owner in service.data_owners:
        if owner not in owners:
            raise CatalogError(path, entry, f"unknown data owner '{owner}' (not in owners.yaml)")
    for task_index, task in enumerate(service.tasks):
        for body in task.responsible:
            if body not in owners:
                raise CatalogError(path, f"{entry}, tasks[{task_index}]", f"unknown responsible body '{body}'")
    for code in _duplicates(service.database_codes()):
        raise CatalogError(path, entry, f"database '{code}' listed twice")


def _check_required_fields_cover_services(
    path: Path, required: Mapping[int, Mapping[str, list[str]]], services: Iterable[Service]
) -> None:
    by_number = {service.number: service for service in services}
    for number, per_database in required.items():
        if number not in by_number:
            raise CatalogError(path, f"service {number}", "no such service in services.yaml")
        for code in per_database:
            if code not in by_number[number].database_codes():
                raise CatalogError(path, f"service {number}, database {code}", "the service does not read this database")
