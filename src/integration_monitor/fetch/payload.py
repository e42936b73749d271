"""Decode response bodies as JSON with limits, and check the shape of a records page."""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from integration_monitor.fetch.errors import FailureKind

logger = logging.getLogger(__name__)

MAX_NESTING_DEPTH = 64
# The same limit as CPython's default int_max_str_digits, applied to floats as well and
# independent of the interpreter setting.
MAX_NUMBER_DIGITS = 4300

_NUMBER_PREFIX = re.compile(r"-?(?:\d+(?:\.\d*)?(?:[eE][+-]?\d*)?)?")
_TOKEN_BOUNDARIES = frozenset("[]{},: \t\n\r")


class PayloadError(Exception):
    """A body that is not a usable JSON document. The caller adds status and timing."""

    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class DecodedJson:
    value: Any
    duplicate_keys: int


@dataclass(frozen=True)
class RecordsPage:
    records: list[dict[str, Any]]
    next_page: int | None
    total: int | None
    duplicate_keys: int


def decode_json(body: bytes, content_type: str | None = None) -> DecodedJson:
    """Decode a body as UTF-8 JSON, whatever charset ``content_type`` names.

    Object keys are normalised to Unicode NFC. A repeated key keeps its last value and is
    counted in ``duplicate_keys``. Raises PayloadError for invalid UTF-8, invalid or cut-off
    JSON, nesting deeper than MAX_NESTING_DEPTH and numbers longer than MAX_NUMBER_DIGITS.
    """
    text, partial_character_offset = _decode_utf8(body)
    if not text.strip():
        raise PayloadError(FailureKind.INVALID_PAYLOAD, "response body is empty")
    try:
        decoded = _decode_text(text, content_type)
    except PayloadError as error:
        if partial_character_offset is None or error.kind is FailureKind.TRUNCATED:
            raise
        raise _invalid_utf8(partial_character_offset) from None
    if partial_character_offset is not None:
        raise _invalid_utf8(partial_character_offset)
    return decoded


def _decode_text(text: str, content_type: str | None) -> DecodedJson:
    duplicates = 0

    def build_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicates
        result: dict[str, Any] = {}
        for key, value in pairs:
            if not unicodedata.is_normalized("NFC", key):
                key = unicodedata.normalize("NFC", key)
            if key in result:
                duplicates += 1
            result[key] = value
        return result

    try:
        value = json.loads(
            text,
            object_pairs_hook=build_object,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_reject_constant,
        )
    except PayloadError:
        raise
    except RecursionError:
        raise PayloadError(FailureKind.INVALID_PAYLOAD, _too_deep_reason()) from None
    except json.JSONDecodeError as error:
        raise _classify_decode_error(text, error, content_type) from None
    except ValueError as error:
        raise PayloadError(FailureKind.INVALID_PAYLOAD, f"invalid JSON value: {error}") from None

    _check_depth(value)
    return DecodedJson(value=value, duplicate_keys=duplicates)


def _decode_utf8(body: bytes) -> tuple[str, int | None]:
    """Return the body as text, and the offset of a cut-off character at its end if any.

    A body cut off inside a multi-byte character is decoded without that character, so that
    the JSON decoder can tell whether the document is truncated.
    """
    try:
        text = body.decode("utf-8")
        partial_character_offset = None
    except UnicodeDecodeError as error:
        if error.end != len(body) or error.reason != "unexpected end of data":
            raise _invalid_utf8(error.start) from None
        text = body[: error.start].decode("utf-8")
        partial_character_offset = error.start
    # RFC 8259 forbids a byte order mark but lets parsers ignore one.
    return text.removeprefix("\ufeff"), partial_character_offset


def _invalid_utf8(offset: int) -> PayloadError:
    return PayloadError(FailureKind.INVALID_PAYLOAD, f"response body is not valid UTF-8 at byte offset {offset}")


def parse_records_page(decoded: DecodedJson) -> RecordsPage:
    """Check that a decoded document is a records page and return its parts.

    Raises PayloadError when the top level is not an object, ``records`` is missing or not a
    list of objects, or ``next_page`` or ``total`` is not a whole number.
    """
    document = decoded.value
    if not isinstance(document, dict):
        raise PayloadError(
            FailureKind.INVALID_PAYLOAD, f"top-level JSON value is {_json_type(document)}, expected an object"
        )
    records = document.get("records")
    if not isinstance(records, list):
        found = "missing" if "records" not in document else _json_type(records)
        raise PayloadError(FailureKind.INVALID_PAYLOAD, f"'records' is {found}, expected a list of objects")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise PayloadError(
                FailureKind.INVALID_PAYLOAD, f"record {index} is {_json_type(record)}, expected an object"
            )

    return RecordsPage(
        records=records,
        next_page=_optional_whole_number(document, "next_page", minimum=1),
        total=_optional_whole_number(document, "total", minimum=0),
        duplicate_keys=decoded.duplicate_keys,
    )


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise PayloadError(
            FailureKind.INVALID_PAYLOAD,
            f"number with {len(digits.lstrip('-'))} digits exceeds the limit of {MAX_NUMBER_DIGITS:,} digits",
        )
    return int(digits)


def _parse_float(literal: str) -> float:
    digit_count = sum(character.isdigit() for character in literal)
    if digit_count > MAX_NUMBER_DIGITS:
        raise PayloadError(
            FailureKind.INVALID_PAYLOAD,
            f"number with {digit_count} digits exceeds the limit of {MAX_NUMBER_DIGITS:,} digits",
        )
    number = float(literal)
    if not math.isfinite(number):
        raise PayloadError(FailureKind.INVALID_PAYLOAD, "number is too large for a 64-bit float")
    return number


def _reject_constant(name: str) -> Any:
    raise PayloadError(FailureKind.INVALID_PAYLOAD, f"{name} is not valid JSON")


def _too_deep_reason() -> str:
    return f"JSON nesting is deeper than {MAX_NESTING_DEPTH} levels"


def _check_depth(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_NESTING_DEPTH:
            raise PayloadError(FailureKind.INVALID_PAYLOAD, _too_deep_reason())
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def _classify_decode_error(text: str, error: json.JSONDecodeError, content_type: str | None) -> PayloadError:
    if _looks_truncated(text, error):
        return PayloadError(FailureKind.TRUNCATED, "JSON document ends before it is complete")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type and "json" not in media_type:
        return PayloadError(FailureKind.INVALID_PAYLOAD, f"response is not JSON (Content-Type {media_type})")
    return PayloadError(
        FailureKind.INVALID_PAYLOAD, f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}"
    )


def _looks_truncated(text: str, error: json.JSONDecodeError) -> bool:
    """Tell whether the decode error comes from a document cut off before its end.

    The json module reports most cut-off documents at the end of the input. The exceptions
    are an unterminated string, reported where the string starts, and a cut-off literal or
    number (``tru``, ``-``, ``1.``), reported where that token starts.
    """
    content = text.rstrip()
    if error.pos >= len(content):
        return True
    if error.msg.startswith("Unterminated string"):
        return True

    # A cut-off token is a literal or a number, so it is never longer than a number may be.
    lowest_start = max(0, len(content) - MAX_NUMBER_DIGITS - 16)
    token_start = len(content)
    while token_start > lowest_start and content[token_start - 1] not in _TOKEN_BOUNDARIES:
        token_start -= 1
    if error.pos < token_start or token_start == len(content):
        return False
    token = content[token_start:]
    if any(literal.startswith(token) for literal in ("true", "false", "null")):
        return True
    return _NUMBER_PREFIX.fullmatch(token) is not None


def _optional_whole_number(document: dict[str, Any], key: str, *, minimum: int) -> int | None:
    value = document.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PayloadError(
            FailureKind.INVALID_PAYLOAD, f"'{key}' is {_json_type(value)}, expected a whole number >= {minimum}"
        )
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
