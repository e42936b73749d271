"""The status model: what a database's and a service's state can be.

A national database is:
- ``OK``: reachable, at least the minimum number of records, every checked field and the
  signature ratios at or above their thresholds, and every consuming service allowed;
- ``DEGRADED``: reachable, but some field, signature ratio or service access is below what
  the services need (includes schema drift, where a field is renamed or dropped), more
  records repeat exactly than ``max_duplicate_share`` allows, or records repeat JSON keys;
- ``BROKEN``: unreachable, or the response cannot be used (refused, timeout, HTTP error,
  invalid or truncated payload, ...);
- ``NO_DATA``: reachable, but it returned no records.

A public service is ``END_TO_END_READY`` when every database it reads is usable for it:
checked, not BROKEN or NO_DATA, its records free of repeated JSON keys, its required fields
complete, signatures present and valid, and access granted for its service code. Otherwise it is ``NOT_READY`` with one reason per
blocking problem.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class DatabaseStatus(StrEnum):
    OK = "OK"
    DEGRADED = "DEGRADED"
    BROKEN = "BROKEN"
    NO_DATA = "NO_DATA"


class ServiceStatus(StrEnum):
    END_TO_END_READY = "END_TO_END_READY"
    NOT_READY = "NOT_READY"


class BlockKind(StrEnum):
    """Why a database blocks a service."""

    NOT_CHECKED = "not_checked"
    DATABASE_BROKEN = "database_broken"
    NO_DATA = "no_data"
    FIELDS_INCOMPLETE = "fields_incomplete"
    FIELDS_MISSING = "fields_missing"
    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_INVALID = "signature_invalid"
    ACCESS_DENIED = "access_denied"
    # Records repeat a JSON key, so a consumer may read a value that the checks did not see.
    PAYLOAD_UNTRUSTED = "payload_untrusted"


@dataclass(frozen=True)
class BlockingReason:
    database: str
    kind: BlockKind
    fields: tuple[str, ...] = ()
    failure_kind: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["fields"] = list(self.fields)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BlockingReason:
        return cls(
            database=data["database"],
            kind=BlockKind(data["kind"]),
            fields=tuple(data.get("fields") or ()),
            failure_kind=data.get("failure_kind"),
            detail=data.get("detail"),
        )


@dataclass(frozen=True)
class ServiceVerdict:
    service_number: int
    reasons: tuple[BlockingReason, ...] = field(default_factory=tuple)

    @property
    def ready(self) -> bool:
        return not self.reasons

    @property
    def status(self) -> ServiceStatus:
        return ServiceStatus.END_TO_END_READY if self.ready else ServiceStatus.NOT_READY
