"""Signed, encoded records in cached blocks, with the scenario's content faults applied.

Content faults change what a database signs: blanked fields (completeness), renamed or
dropped fields (schema drift) and signature faults. They are applied while a block is built,
before or during signing, so that a schema-drift record still carries a valid signature.
Response faults (duplicates, truncation ...) work on the encoded records and live in
``responses.py``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lxml import etree

from integration_monitor.catalog.models import FieldFormat, NationalDatabase
from integration_monitor.signatures import (
    CLAIM_RECORD,
    RECORD_ID_FIELD,
    SIGNATURE_FIELD,
    LocalPki,
    SigningIdentity,
    sign_json_record,
    sign_xml_record,
    write_claim_value,
)
from integration_monitor.stubs import values
from integration_monitor.stubs.generator import RecordGenerator
from integration_monitor.stubs.scenario import (
    BlankStyle,
    CompletenessRule,
    DatabaseScenario,
    SignatureMode,
    SignatureRule,
)

logger = logging.getLogger(__name__)

BLOCK_SIZE = 100
# Health claim files are exchanged as XML and signed with XML-DSig, so these databases are too.
XML_SIGNED_DATABASES = frozenset({"kham_chua_benh"})

_GOLDEN_RATIO_FRACTION = 0.6180339887498949
_BLANKS = {
    BlankStyle.NULL: (None,),
    BlankStyle.EMPTY: ("",),
    BlankStyle.WHITESPACE: ("   ",),
    BlankStyle.FILLER: values.FILLER_VALUES,
    BlankStyle.MIXED: (None, "", "   ", *values.FILLER_VALUES),
}
_NOT_BASE64 = "***not-base64***"
_BROKEN_PEM = "-----BEGIN CERTIFICATE-----\nMIIBroken\n-----END CERTIFICATE-----\n"


def is_selected(index: int, share: float, salt: str) -> bool:
    """Return whether record ``index`` belongs to the ``share`` picked for ``salt``.

    The picks follow a golden-ratio sequence, so any run of n consecutive records contains
    ``share * n`` picks give or take a few, and every run of the server picks the same ones.
    """
    if share <= 0.0:
        return False
    if share >= 1.0:
        return True
    offset = int.from_bytes(hashlib.sha256(salt.encode()).digest()[:8], "big") / 2**64
    return (index * _GOLDEN_RATIO_FRACTION + offset) % 1.0 < share


@dataclass(frozen=True)
class ContentVariant:
    """Everything in a scenario that changes the records themselves; a cache key part."""

    completeness: tuple[CompletenessRule, ...] = ()
    signature: SignatureRule = SignatureRule()
    rename: tuple[tuple[str, str], ...] = ()
    drop: tuple[str, ...] = ()

    @classmethod
    def of(cls, entry: DatabaseScenario, schema_drift: bool) -> ContentVariant:
        options = entry.fault_options
        return cls(
            completeness=entry.completeness,
            signature=entry.signature,
            rename=tuple(options.rename.items()) if schema_drift else (),
            drop=options.drop if schema_drift else (),
        )


HEALTHY_CONTENT = ContentVariant()


class RecordStore:
    """Builds blocks of ``BLOCK_SIZE`` encoded records and keeps the most recent in memory.

    Blocks are built on one worker thread, so that the event loop keeps serving other
    requests, and so that the generator and signing keys are never used by two threads.
    """

    def __init__(
        self,
        generator: RecordGenerator,
        pki: LocalPki,
        total: int,
        cache_blocks: int,
        xml_databases: frozenset[str] = XML_SIGNED_DATABASES,
    ) -> None:
        self.generator = generator
        self.pki = pki
        self.total = total
        self.cache_blocks = cache_blocks
        self.xml_databases = xml_databases
        self._cache: OrderedDict[tuple[str, int, ContentVariant], tuple[bytes, ...]] = OrderedDict()
        self._building: dict[tuple[str, int, ContentVariant], asyncio.Future[tuple[bytes, ...]]] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stub-records")

    @property
    def cached_blocks(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def records(
        self, database: NationalDatabase, start: int, stop: int, variant: ContentVariant
    ) -> list[bytes]:
        """Return encoded records ``start`` to ``stop - 1`` (clipped to the total)."""
        stop = min(stop, self.total)
        if start >= stop:
            return []
        encoded: list[bytes] = []
        for block_number in range(start // BLOCK_SIZE, (stop - 1) // BLOCK_SIZE + 1):
            block = await self._block(database, block_number, variant)
            first = block_number * BLOCK_SIZE
            encoded.extend(block[max(start - first, 0) : stop - first])
        return encoded

    async def _block(self, database: NationalDatabase, block_number: int, variant: ContentVariant) -> tuple[bytes, ...]:
        key = (database.code, block_number, variant)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached

        pending = self._building.get(key)
        if pending is None:
            loop = asyncio.get_running_loop()
            pending = loop.run_in_executor(self._executor, self.build_block, database, block_number, variant)
            self._building[key] = pending
            pending.add_done_callback(lambda future: self._finished(key, future))
        # Shielded, so that a client that goes away does not cancel a build that others wait for.
        return await asyncio.shield(pending)

    def _finished(self, key: tuple[str, int, ContentVariant], future: asyncio.Future[tuple[bytes, ...]]) -> None:
        self._building.pop(key, None)
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            # Only the exception type: a message could quote a record value.
            logger.error("Building block %d of %s failed with %s", key[1], key[0], type(error).__name__)
            return
        self._cache[key] = future.result()
        while len(self._cache) > self.cache_blocks:
            self._cache.popitem(last=False)

    async def warm_up(
        self, databases: Sequence[NationalDatabase], variant_of: Callable[[str], ContentVariant]
    ) -> int:
        """Build every block that is not cached yet and return how many were built.

        Blocks are built one at a time, so a request that needs another block waits for one
        block at most. It stops when the cache is full.
        """
        built = 0
        block_count = -(-self.total // BLOCK_SIZE)
        for database in databases:
            for block_number in range(block_count):
                if len(self._cache) >= self.cache_blocks:
                    return built
                variant = variant_of(database.code)
                if (database.code, block_number, variant) in self._cache:
                    continue
                await self._block(database, block_number, variant)
                built += 1
        return built

    def build_block(self, database: NationalDatabase, block_number: int, variant: ContentVariant) -> tuple[bytes, ...]:
        """Generate, transform, sign and encode one block (blocking; runs on the worker thread)."""
        first = block_number * BLOCK_SIZE
        last = min(first + BLOCK_SIZE, self.total)
        signed_at = dt.datetime.now(dt.UTC)
        encoded = []
        for index in range(first, last):
            record = self.generator.record(database, index)
            self._blank_fields(database.code, record, index, variant.completeness)
            record = _drift(record, variant.rename, variant.drop)
            self._sign(database, record, index, variant, signed_at)
            encoded.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        logger.debug("Built block %d of %s: %d records", block_number, database.code, len(encoded))
        return tuple(encoded)

    def _blank_fields(
        self, database_code: str, record: dict[str, Any], index: int, rules: tuple[CompletenessRule, ...]
    ) -> None:
        for rule_number, rule in enumerate(rules):
            if not is_selected(index, rule.missing_share, f"completeness|{database_code}|{rule_number}"):
                continue
            blanks = _BLANKS[rule.style]
            for code in rule.fields:
                if code in record:
                    choice = int.from_bytes(hashlib.sha256(f"{index}|{code}".encode()).digest()[:4], "big")
                    record[code] = blanks[choice % len(blanks)]

    def _sign(
        self,
        database: NationalDatabase,
        record: dict[str, Any],
        index: int,
        variant: ContentVariant,
        signed_at: dt.datetime,
    ) -> None:
        if not database.signed:
            record[SIGNATURE_FIELD] = None
            return

        rule = variant.signature
        mode = rule.mode if is_selected(index, rule.share, f"signature|{database.code}") else SignatureMode.NONE
        if mode == SignatureMode.MISSING:
            return

        xml = database.code in self.xml_databases
        identity = self._identity(mode, xml)
        if xml:
            groups = {spec.code: spec.group for spec in database.fields if spec.group}
            groups.update({new: groups[old] for old, new in variant.rename if old in groups})
            signature = sign_xml_record(record, identity, groups, _facility_code(database, record))
        else:
            signature = sign_json_record(record, identity, signed_at)
        record[SIGNATURE_FIELD] = signature

        if mode == SignatureMode.MALFORMED:
            record[SIGNATURE_FIELD] = _malformed(signature, index, xml)
        elif mode == SignatureMode.INVALID:
            _change_after_signing(record, xml)

    def _identity(self, mode: SignatureMode, xml: bool) -> SigningIdentity:
        pki = self.pki
        if mode == SignatureMode.UNKNOWN_CA:
            return pki.unknown_xml_signer if xml else pki.unknown_json_signer
        if mode == SignatureMode.EXPIRED:
            return pki.expired_xml_signer if xml else pki.expired_json_signer
        return pki.xml_signer if xml else pki.json_signer


def _drift(record: dict[str, Any], rename: tuple[tuple[str, str], ...], drop: tuple[str, ...]) -> dict[str, Any]:
    if not rename and not drop:
        return record
    new_names = dict(rename)
    return {new_names.get(code, code): value for code, value in record.items() if code not in drop}


def _facility_code(database: NationalDatabase, record: dict[str, Any]) -> str | None:
    for spec in database.fields:
        if spec.format == FieldFormat.HEALTH_FACILITY_CODE and isinstance(record.get(spec.code), str):
            return record[spec.code]
    return None


def _malformed(signature: dict[str, str], index: int, xml: bool) -> Any:
    """Return one of three broken signatures: not an object, bad base64, or a broken certificate or document."""
    variant = index % 3
    if variant == 0:
        return "SIGNED"
    broken = dict(signature)
    if variant == 1:
        broken["document" if xml else "value"] = _NOT_BASE64
    elif xml:
        document = base64.b64decode(broken["document"])
        broken["document"] = base64.b64encode(document[: len(document) // 2]).decode("ascii")
    else:
        broken["certificate"] = _BROKEN_PEM
    return broken


def _change_after_signing(record: dict[str, Any], xml: bool) -> None:
    """Change one field after signing, in the JSON record and, for XML, in the signed document too."""
    code = next(
        (key for key, value in record.items() if key not in (RECORD_ID_FIELD, SIGNATURE_FIELD) and _changeable(value)),
        RECORD_ID_FIELD,
    )
    record[code] = _changed(record[code])
    if not xml:
        return

    signature = record[SIGNATURE_FIELD]
    root = etree.fromstring(base64.b64decode(signature["document"]))
    element = root.find(f".//{CLAIM_RECORD}//{code}")
    if element is not None:
        write_claim_value(element, record[code])
    document = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    record[SIGNATURE_FIELD] = {**signature, "document": base64.b64encode(document).decode("ascii")}


def _changeable(value: Any) -> bool:
    return (isinstance(value, str) and value.strip() != "") or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _changed(value: Any) -> Any:
    if isinstance(value, (int, float)):
        return value + 1
    if value[-1].isdigit():
        return value[:-1] + str((int(value[-1]) + 1) % 10)
    return value + "a"
