"""HTTP responses of the records endpoint: the healthy page and each response fault."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace

from starlette.responses import Response, StreamingResponse

from integration_monitor.stubs.records import is_selected
from integration_monitor.stubs.scenario import Fault, FaultOptions

JSON_UTF8 = "application/json; charset=utf-8"
JSON_LATIN1 = "application/json; charset=iso-8859-1"
HTML_UTF8 = "text/html; charset=utf-8"
MIB = 1024 * 1024
_STREAM_CHUNK = MIB


@dataclass(frozen=True)
class PageMeta:
    database: str
    page: int
    limit: int
    total: int
    next_page: int | None
    request_id: str

    def head(self) -> bytes:
        """Return the page envelope up to and including ``"records":[``."""
        envelope = {
            "database": self.database,
            "page": self.page,
            "limit": self.limit,
            "total": self.total,
            "next_page": self.next_page,
            "request_id": self.request_id,
        }
        text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        return (text[:-1] + ',"records":[').encode("utf-8")


def page_body(meta: PageMeta, records: list[bytes]) -> bytes:
    return meta.head() + b",".join(records) + b"]}"


def json_error(status: int, error: str, detail: str, request_id: str | None = None, **headers: str) -> Response:
    body = json.dumps({"error": error, "detail": detail}, ensure_ascii=False).encode("utf-8")
    all_headers = {key.replace("_", "-"): value for key, value in headers.items()}
    if request_id:
        all_headers["X-Request-ID"] = request_id
    return Response(body, status_code=status, media_type=None, headers={"Content-Type": JSON_UTF8, **all_headers})


def _raw(body: bytes, status: int, content_type: str, request_id: str, **headers: str) -> Response:
    all_headers = {"Content-Type": content_type, "X-Request-ID": request_id}
    all_headers.update({key.replace("_", "-"): value for key, value in headers.items()})
    return Response(body, status_code=status, headers=all_headers)


def page_response(meta: PageMeta, records: list[bytes]) -> Response:
    return _raw(page_body(meta, records), 200, JSON_UTF8, meta.request_id)


def fault_response(
    fault: Fault, meta: PageMeta, records: list[bytes], options: FaultOptions, database_name: str
) -> Response:
    """Return the response for a fault that is not about the records' content or timing.

    ``none``, ``slow`` and ``schema_drift`` return the page as it is: the caller has already
    waited or built drifted records.
    """
    request_id = meta.request_id
    if fault == Fault.HTTP_500:
        return json_error(500, "internal_error", "the database returned an unexpected error", request_id)
    if fault == Fault.HTTP_502:
        return _raw(gateway_page(502, "Bad Gateway"), 502, HTML_UTF8, request_id)
    if fault == Fault.HTTP_503:
        return _raw(gateway_page(503, "Service Temporarily Unavailable"), 503, HTML_UTF8, request_id)
    if fault == Fault.RATE_LIMITED:
        return json_error(
            429, "rate_limited", "too many requests", request_id, Retry_After=str(options.retry_after)
        )
    if fault == Fault.UNAUTHORIZED:
        return json_error(
            401, "invalid_token", "the access token was rejected", request_id,
            WWW_Authenticate='Bearer error="invalid_token"',
        )  # fmt: skip
    if fault == Fault.FORBIDDEN:
        return json_error(403, "forbidden", "the calling agency has no access to this database", request_id)
    if fault == Fault.MAINTENANCE_HTML:
        return _raw(_maintenance_page(database_name), 200, HTML_UTF8, request_id)
    if fault == Fault.MALFORMED_JSON:
        # A trailing comma inside the records array: close to JSON, but not JSON.
        return _raw(meta.head() + b",".join(records) + b",]}", 200, JSON_UTF8, request_id)
    if fault == Fault.TRUNCATED:
        body = page_body(meta, records)
        head_length = len(meta.head())
        cut = head_length + (len(body) - head_length) // 2
        return _raw(body[:cut], 200, JSON_UTF8, request_id)
    if fault == Fault.OVERSIZED:
        return _oversized(meta, records, options.size_mb)
    if fault == Fault.WRONG_CHARSET:
        return _raw(page_body(meta, records), 200, JSON_LATIN1, request_id)
    if fault == Fault.EMPTY:
        empty = replace(meta, total=0, next_page=None)
        return page_response(empty, [])
    if fault == Fault.DUPLICATES:
        return page_response(meta, with_duplicates(meta, records, options.duplicate_share))
    return page_response(meta, records)


def with_duplicates(meta: PageMeta, records: list[bytes], share: float) -> list[bytes]:
    """Replace about ``share`` of a page's records with a copy of the record before it.

    The first record of a page is never replaced, so a one-record page has no duplicate.
    """
    first_index = (meta.page - 1) * meta.limit
    result = list(records)
    for position in range(1, len(records)):
        if is_selected(first_index + position, share, f"duplicates|{meta.database}"):
            result[position] = records[position - 1]
    return result


def _oversized(meta: PageMeta, records: list[bytes], size_mb: float) -> Response:
    """Stream a valid page that repeats its records until the body reaches ``size_mb`` MiB.

    It stands for a server that ignores ``limit``. The exact length is sent as
    Content-Length, so a client can reject the body before reading it.
    """
    head = meta.head()
    tail = b"]}"
    target = int(size_mb * MIB)
    source = records or [b"{}"]

    count = 0
    length = len(head) + len(tail)
    while length < target:
        length += len(source[count % len(source)]) + (1 if count else 0)
        count += 1

    def chunks() -> Iterator[bytes]:
        yield head
        buffer: list[bytes] = []
        buffered = 0
        for position in range(count):
            item = source[position % len(source)]
            buffer.append(b"," + item if position else item)
            buffered += len(buffer[-1])
            if buffered >= _STREAM_CHUNK:
                yield b"".join(buffer)
                buffer, buffered = [], 0
        buffer.append(tail)
        yield b"".join(buffer)

    headers = {"Content-Length": str(length), "X-Request-ID": meta.request_id}
    return StreamingResponse(chunks(), status_code=200, media_type=JSON_UTF8, headers=headers)


def gateway_page(status: int, reason: str) -> bytes:
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n"
        f"<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode("ascii")


def _maintenance_page(database_name: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html lang=\"vi\">\n<head><meta charset=\"utf-8\">"
        "<title>Hệ thống đang bảo trì</title></head>\n<body>\n"
        "<h1>Hệ thống đang bảo trì</h1>\n"
        f"<p>{html.escape(database_name)} tạm ngừng cung cấp dữ liệu để bảo trì. Vui lòng quay lại sau.</p>\n"
        "</body>\n</html>\n"
    ).encode("utf-8")
