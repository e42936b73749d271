"""Operator words for the codes the store keeps: statuses, failure kinds and blocking kinds."""

from __future__ import annotations

from integration_monitor import labels as shared_labels
from integration_monitor.dashboard.context import ViewContext
from integration_monitor.dashboard.formatting import format_ratio
from integration_monitor.store.models import DatabaseCheck


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
    return shared_labels.failure_kind_label(kind, ctx.language)


def block_kind_label(ctx: ViewContext, kind: str) -> str:
    return shared_labels.block_kind_label(kind, ctx.language)


def timeline_state_label(ctx: ViewContext, state: str) -> str:
    _ = ctx._
    return {
        "ready": _("End-to-end ready"),
        "not_ready": _("Not ready"),
        "mixed": _("Ready part of the time"),
        "no_result": _("No result"),
    }.get(state, state)


def check_problems(ctx: ViewContext, check: DatabaseCheck | None) -> list[str]:
    """Return what is wrong with a database's check, in the operator's language.

    The store's ``reason`` is the pipeline's English text; these sentences come from the check's
    own figures, so they read the same in both languages.
    """
    from integration_monitor.thresholds import thresholds_for

    _ = ctx._
    if check is None:
        return [_("Not checked yet")]
    if check.status in ("BROKEN", "NO_DATA"):
        label = failure_kind_label(ctx, check.failure_kind) or database_status_label(ctx, check.status)
        return [label[:1].upper() + label[1:]]

    problems = []
    absent = [row for row in check.fields if not row.present]
    failing = [row for row in check.fields if row.present and not row.passed]
    if absent:
        problems.append(_("{count} fields absent from every record", count=len(absent)))
    if failing:
        problems.append(_("{count} of {total} checked fields below their completeness threshold",
                          count=len(failing), total=len(check.fields)))

    limits = thresholds_for(check.database_code)
    present, valid = check.signature_present_ratio, check.signature_valid_ratio
    if present is not None and present < limits.signature_present:
        problems.append(_("signed records {ratio} (threshold {threshold})", ratio=format_ratio(present, ctx.language),
                          threshold=format_ratio(limits.signature_present, ctx.language, 0)))
    elif valid is not None and valid < limits.signature_valid:
        problems.append(_("valid signatures {ratio} (threshold {threshold})", ratio=format_ratio(valid, ctx.language),
                          threshold=format_ratio(limits.signature_valid, ctx.language, 0)))

    denied = sorted(row.service_number for row in check.access if not row.allowed)
    if denied:
        problems.append(_("access refused for services {numbers}", numbers=", ".join(str(number) for number in denied)))
    return problems
