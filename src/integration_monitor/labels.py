"""Operator words for the codes the store keeps: database statuses, failure kinds and the kinds
of blocking reason. The CLI reports, the alerts and the dashboard all use these, so an operator
reads the same words everywhere. Vietnamese comes from ``locale/vi/LC_MESSAGES/labels.po``."""

from __future__ import annotations

from integration_monitor.i18n import translator

DATABASE_STATUS = {
    "OK": "OK",
    "DEGRADED": "degraded",
    "BROKEN": "broken",
    "NO_DATA": "no data",
}

FAILURE_KINDS = {
    "refused": "connection refused",
    "dns": "host name not resolved (DNS)",
    "tls": "TLS or certificate error",
    "timeout": "timed out",
    "http_4xx": "HTTP client error (4xx)",
    "http_5xx": "HTTP server error (5xx)",
    "rate_limited": "rate limited (HTTP 429)",
    "unauthorized": "authentication or permission refused",
    "invalid_payload": "invalid response body",
    "truncated": "truncated response",
    "oversized": "response larger than the limit",
    "schema_drift": "fields renamed or dropped",
    "empty": "no records returned",
    "task_error": "error inside the monitoring task",
}

BLOCK_KINDS = {
    "not_checked": "not checked yet",
    "database_broken": "connection broken",
    "no_data": "no data returned",
    "fields_incomplete": "required fields below the completeness threshold",
    "fields_missing": "required fields absent",
    "signature_missing": "records without a digital signature",
    "signature_invalid": "invalid digital signatures",
    "access_denied": "access refused for this service's code",
    "payload_untrusted": "records repeat JSON keys",
}


def _label(table: dict[str, str], code: str | None, language: str | None) -> str:
    if code is None:
        return ""
    english = table.get(code)
    if english is None:
        return code
    return translator("labels", language)(english)


def database_status_label(status: str | None, language: str | None = None) -> str:
    return _label(DATABASE_STATUS, status, language)


def failure_kind_label(kind: str | None, language: str | None = None) -> str:
    return _label(FAILURE_KINDS, kind, language)


def block_kind_label(kind: str | None, language: str | None = None) -> str:
    return _label(BLOCK_KINDS, kind, language)
