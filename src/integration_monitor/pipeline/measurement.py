"""Results that the fetch task passes to the validate and record tasks through XCom.

A batch of records never leaves the fetch task. It is reduced there to a presence table (per
record and checked field: present or missing), signature outcomes and counts, packed as bits,
so XCom carries no personal data.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def pack_bits(values: Sequence[bool] | np.ndarray) -> str:
    """Pack booleans into base64 text, eight per byte; bit i of the batch is bit i % 8 of byte i // 8."""
    import numpy as np

    flags = np.asarray(values, dtype=bool)
    return base64.b64encode(np.packbits(flags, bitorder="little").tobytes()).decode("ascii")


def unpack_bits_array(text: str, count: int) -> np.ndarray:
    """Return the first ``count`` booleans packed by :func:`pack_bits`, as a numpy array."""
    import numpy as np

    packed = np.frombuffer(base64.b64decode(text), dtype=np.uint8)
    return np.unpackbits(packed, count=count, bitorder="little").astype(bool)


def unpack_bits(text: str, count: int) -> list[bool]:
    return unpack_bits_array(text, count).tolist()


@dataclass(frozen=True)
class AccessOutcome:
    service_number: int
    allowed: bool
    failure_kind: str | None = None
    http_status: int | None = None


@dataclass(frozen=True)
class Measurement:
    database_code: str
    fetched_at: str  # ISO timestamp of the fetch, so a re-run record task writes the same row
    record_count: int
    duplicate_count: int
    latency_ms: float
    http_status: int | None
    attempts: int
    pages: int
    bytes_read: int
    checked_fields: list[str]
    absent_fields: list[str]  # checked fields that appear in no record
    unexpected_fields: list[str]  # keys that the catalog does not know (a renamed field shows here)
    presence_bits: dict[str, str]  # field code -> packed bits, one per record
    signature_present_bits: str | None
    signature_valid_bits: str | None
    signature_failures: dict[str, int] = field(default_factory=dict)
    access: list[AccessOutcome] = field(default_factory=list)
    duplicate_keys: int = 0  # keys repeated within one JSON object; the decoder kept the last value

    @property
    def schema_drift(self) -> bool:
        return bool(self.absent_fields) and self.record_count > 0

    def as_xcom(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> Measurement:
        values = dict(data)
        values["access"] = [AccessOutcome(**item) for item in values.get("access") or []]
        return cls(**values)

    def presence(self, field_code: str) -> np.ndarray:
        return unpack_bits_array(self.presence_bits[field_code], self.record_count)


@dataclass(frozen=True)
class FetchFailure:
    database_code: str
    fetched_at: str
    failure_kind: str
    reason: str
    http_status: int | None = None
    latency_ms: float | None = None
    attempts: int = 1
    access: list[AccessOutcome] = field(default_factory=list)

    def as_xcom(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> FetchFailure:
        values = dict(data)
        values["access"] = [AccessOutcome(**item) for item in values.get("access") or []]
        return cls(**values)
