"""Operator words for the codes the store keeps: statuses, failure kinds and blocking kinds."""

from __future__ import annotations

from integration_monitor.dashboard.context import ViewContext


def database_status_label(ctx: ViewContext, status: str | None) -> str:
    _ = ctx._
    return {
        "OK": _("OK"),
        "DEGRADED": _("Degraded"),
        "BROKEN": _("Broken"),
        "NO_DATA": _("No data"),
        None: _("Not checked yet"),
    }.get(status, status or "")


def failure_kind_label(ctx: ViewContext, kind: str | None) -> str:
    if kind is None:
        return ""
    _ = ctx._
    labels = {
        "refused": _("connection refused"),
        "dns": _("host name not resolved (DNS)"),
        "tls": _("TLS or certificate error"),
        "timeout": _("timed out"),
        "http_4xx": _("HTTP 4xx error"),
        "http_5xx": _("server error (HTTP 5xx)"),
        "rate_limited": _("rate limited"),
        "unauthorized": _("not authorised"),
        "invalid_payload": _("invalid response"),
        "truncated": _("truncated response"),
        "oversized": _("response too large"),
        "schema_drift": _("fields renamed or dropped"),
        "empty": _("no records"),
    }
    return labels.get(kind, kind)


def block_kind_label(ctx: ViewContext, kind: str) -> str:
    _ = ctx._
    labels = {
        "not_checked": _("not checked yet"),
        "database_broken": _("database broken"),
        "no_data": _("no data"),
        "fields_incomplete": _("fields incomplete"),
        "fields_missing": _("fields absent"),
        "signature_missing": _("signatures missing"),
        "signature_invalid": _("signatures invalid"),
        "access_denied": _("access refused"),
    }
    return labels.get(kind, kind)


def timeline_state_label(ctx: ViewContext, state: str) -> str:
    _ = ctx._
    return {
        "ready": _("End-to-end ready"),
        "not_ready": _("Not ready"),
        "mixed": _("Ready part of the time"),
        "no_result": _("No result"),
    }.get(state, state)
