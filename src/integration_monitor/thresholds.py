"""Thresholds of the data checks: completeness, signatures and the minimum batch size.

They are kept in ``include/thresholds.yaml``, or in the file that the environment variable
``INTEGRATION_MONITOR_THRESHOLDS`` names. A file has defaults, overridden per national
database and, for completeness, per field of a database::

    defaults:
      completeness: 0.95
      signature_present: 0.99
      signature_valid: 0.99
      min_records: 1
      max_duplicate_share: 0.01
    databases:
      kham_chua_benh:
        signature_valid: 0.98
        fields:
          MA_THE_BHYT: 0.99

Every problem raises :class:`ThresholdsError` naming the file, the entry and the problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

from integration_monitor.catalog.loader import project_root
from integration_monitor.catalog.models import Catalog

THRESHOLDS_ENV = "INTEGRATION_MONITOR_THRESHOLDS"

# A share of records, from 0 to 1. Strict, so that `true` or "95%" is an error, not a number.
Ratio = Annotated[float, Strict(), Field(ge=0.0, le=1.0)]
RecordCount = Annotated[int, Strict(), Field(ge=0)]


class ThresholdsError(Exception):
    """Invalid thresholds file. The message names the file, the entry and the problem."""

    def __init__(self, path: Path | str, entry: str, problem: str) -> None:
        self.path = str(path)
        self.entry = entry
        self.problem = problem
        super().__init__(f"{self.path}: {entry}: {problem}")


class _StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_StrictModel):
    completeness: Ratio = 0.95  # share of records that must fill each checked field
    signature_present: Ratio = 0.99  # share of records that must carry a digital signature
    signature_valid: Ratio = 0.99  # share of all records whose signature verifies
    min_records: RecordCount = 1  # a batch with fewer records fails the row-count check
    max_duplicate_share: Ratio = 0.01  # share of records that may repeat another record of the batch exactly


class DatabaseOverride(_StrictModel):
    completeness: Ratio | None = None
    signature_present: Ratio | None = None
    signature_valid: Ratio | None = None
    min_records: RecordCount | None = None
    max_duplicate_share: Ratio | None = None
    fields: dict[str, Ratio] = Field(default_factory=dict)  # field code -> completeness threshold

    @field_validator("fields", mode="before")
    @classmethod
    def _empty_when_blank(cls, value: Any) -> Any:
        return {} if value is None else value


class ThresholdsFile(_StrictModel):
    defaults: Defaults = Field(default_factory=Defaults)
    databases: dict[str, DatabaseOverride] = Field(default_factory=dict)

    @field_validator("defaults", "databases", mode="before")
    @classmethod
    def _empty_when_blank(cls, value: Any) -> Any:
        # A section whose entries are all commented out reads as null in YAML.
        return {} if value is None else value


@dataclass(frozen=True)
class Thresholds:
    """A validated thresholds file and where it was read from."""

    path: str
    content: ThresholdsFile

    def database(self, database_code: str) -> DatabaseThresholds:
        defaults = self.content.defaults
        override = self.content.databases.get(database_code, DatabaseOverride())
        return DatabaseThresholds(
            database_code=database_code,
            completeness=_first_set(override.completeness, defaults.completeness),
            signature_present=_first_set(override.signature_present, defaults.signature_present),
            signature_valid=_first_set(override.signature_valid, defaults.signature_valid),
            min_records=_first_set(override.min_records, defaults.min_records),
            max_duplicate_share=_first_set(override.max_duplicate_share, defaults.max_duplicate_share),
            field_completeness=dict(override.fields),
        )


@dataclass(frozen=True)
class DatabaseThresholds:
    """The thresholds in force for one national database."""

    database_code: str
    completeness: float
    signature_present: float
    signature_valid: float
    min_records: int
    max_duplicate_share: float = 0.01
    field_completeness: Mapping[str, float] = field(default_factory=dict)

    def field(self, code: str) -> float:
        """Return the completeness threshold of one field: its own, else the database's."""
        return self.field_completeness.get(code, self.completeness)


def default_thresholds_path() -> Path:
    configured = os.environ.get(THRESHOLDS_ENV)
    if configured:
        return Path(configured)
    return project_root() / "include" / "thresholds.yaml"


def load_thresholds(path: Path | str | None = None) -> Thresholds:
    """Read and validate a thresholds file (default: see :func:`default_thresholds_path`)."""
    file_path = Path(path) if path is not None else default_thresholds_path()
    try:
        modified = file_path.stat().st_mtime_ns
    except FileNotFoundError:
        raise ThresholdsError(file_path, "file", "file not found") from None
    return _load_unchanged(str(file_path), modified)


def thresholds_for(database_code: str, thresholds: Thresholds | None = None) -> DatabaseThresholds:
    """Return the thresholds of one national database; unknown databases get the defaults."""
    return (thresholds or load_thresholds()).database(database_code)


def check_against_catalog(thresholds: Thresholds, catalog: Catalog) -> None:
    """Raise ThresholdsError for an override naming a database or field the catalog lacks,
    so that a misspelt code cannot leave a threshold silently unused."""
    databases = {database.code: database for database in catalog.databases}
    for code, override in thresholds.content.databases.items():
        if code not in databases:
            raise ThresholdsError(thresholds.path, f"databases.{code}", "unknown database (not in the catalog)")
        known_fields = {spec.code for spec in databases[code].fields}
        for field_code in override.fields:
            if field_code not in known_fields:
                raise ThresholdsError(
                    thresholds.path, f"databases.{code}.fields.{field_code}", f"unknown field of {code}"
                )


@lru_cache(maxsize=8)
def _load_unchanged(path: str, modified_ns: int) -> Thresholds:
    """Parse a file once per modification time: the rollup asks for every database's thresholds."""
    del modified_ns  # part of the cache key only
    document = _read_yaml(Path(path))
    try:
        content = ThresholdsFile.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        entry = ".".join(str(piece) for piece in first["loc"]) or "file"
        problems = "; ".join(
            f"{'.'.join(str(piece) for piece in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise ThresholdsError(path, entry, problems) from None
    return Thresholds(path=path, content=content)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ThresholdsError(path, "file", f"not valid UTF-8 at byte {error.start}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "file"
        raise ThresholdsError(path, where, f"invalid YAML: {getattr(error, 'problem', None) or error}") from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise ThresholdsError(path, "file", f"expected a mapping at the top level, got {type(document).__name__}")
    return document


def _first_set(value: Any, default: Any) -> Any:
    return default if value is None else value
