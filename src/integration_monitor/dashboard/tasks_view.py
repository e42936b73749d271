"""The appendix's tasks, each with its responsible bodies and deadline beside live evidence.

The evidence for a task is the latest check of each database that the task's service reads
and that one of the task's responsible bodies owns. When none of them owns such a database,
as for a task addressed to every ministry and locality, it is every database the service reads.
"""

from __future__ import annotations

from collections.abc import Mapping

from integration_monitor.catalog.models import Service, Task
from integration_monitor.dashboard.context import ViewContext
from integration_monitor.dashboard.formatting import format_date, format_ratio
from integration_monitor.dashboard.matrix import cell_status
from integration_monitor.dashboard.schemas import CellStatus, EvidenceItem, ResponsibleBody, TaskEvidence
from integration_monitor.dashboard.latest import load_latest_snapshot
from integration_monitor.report import StatusSnapshot
from integration_monitor.store.models import DatabaseCheck


def all_tasks(ctx: ViewContext) -> list[TaskEvidence]:
    with ctx.factory() as session:
        snapshot, checks = load_latest_snapshot(ctx.catalog, session)
    return [task for service in ctx.catalog.services for task in service_tasks(ctx, service, snapshot, checks)]


def service_tasks(
    ctx: ViewContext, service: Service, snapshot: StatusSnapshot, checks: Mapping[str, DatabaseCheck]
) -> list[TaskEvidence]:
    return [_task_evidence(ctx, service, index, task, snapshot, checks) for index, task in enumerate(service.tasks)]


def _task_evidence(
    ctx: ViewContext, service: Service, index: int, task: Task, snapshot: StatusSnapshot,
    checks: Mapping[str, DatabaseCheck],
) -> TaskEvidence:
    owned = [code for code in service.database_codes() if ctx.catalog.database(code).owner in task.responsible]
    evidence = [_evidence(ctx, service, code, snapshot, checks.get(code)) for code in owned or service.database_codes()]
    today = ctx.now.date()
    deadline_passed = task.deadline < today if task.deadline is not None else None
    days_left = (task.deadline - today).days if task.deadline is not None else None
    item = TaskEvidence(
        service_number=service.number,
        service_name=ctx.service_name(service),
        task_index=index,
        kind=task.kind,
        limitation=task.limitation,
        recommendation=task.recommendation,
        responsible=[ResponsibleBody(code=code, name=ctx.owner_name(code)) for code in task.responsible],
        deadline=task.deadline,
        deadline_text=task.deadline_text,
        deadline_passed=deadline_passed,
        days_left=days_left,
        service_ready=snapshot.services[service.number].ready,
        evidence=evidence,
        summary="",
    )
    return item.model_copy(update={"summary": task_summary(ctx, item)})


def _evidence(
    ctx: ViewContext, service: Service, code: str, snapshot: StatusSnapshot, check: DatabaseCheck | None
) -> EvidenceItem:
    from integration_monitor.thresholds import thresholds_for

    entry = next(item for item in service.databases if item.database == code)
    signed = ctx.catalog.database(code).signed
    required = set(entry.required_fields)
    rows = [row for row in check.fields if row.field_code in required] if check is not None else []
    values = [row.completeness for row in rows]
    return EvidenceItem(
        database_code=code,
        database_name=ctx.database_name(code),
        status=cell_status(snapshot, service.number, code),
        checked_at=check.checked_at if check is not None else None,
        completeness_mean=sum(values) / len(values) if values else None,
        completeness_min=min(values) if values else None,
        fields_checked=len(rows) if rows else None,
        fields_below_threshold=sum(1 for row in rows if not row.passed) if rows else None,
        signature_present_ratio=check.signature_present_ratio if check is not None else None,
        signature_valid_ratio=check.signature_valid_ratio if check is not None else None,
        signature_present_threshold=thresholds_for(code).signature_present if signed else None,
    )


def task_summary(ctx: ViewContext, task: TaskEvidence) -> str:
    """Return one sentence: the deadline's state, then the weakest piece of evidence."""
    _ = ctx._
    if task.deadline is None:
        deadline = _("No deadline given")
    elif task.deadline_passed:
        deadline = _("Deadline {date} has passed", date=format_date(task.deadline, ctx.language))
    elif task.days_left == 0:
        deadline = _("Deadline {date} is today", date=format_date(task.deadline, ctx.language))
    else:
        deadline = _("{days} days left until the deadline {date}", days=task.days_left,
                     date=format_date(task.deadline, ctx.language))

    weakest = _weakest(task.evidence)
    if weakest is None:
        return deadline + "."
    if weakest.status in (CellStatus.BROKEN, CellStatus.NO_DATA, CellStatus.NOT_CHECKED):
        state = {
            CellStatus.BROKEN: _("connection broken"),
            CellStatus.NO_DATA: _("returns no data"),
            CellStatus.NOT_CHECKED: _("not checked yet"),
        }[weakest.status]
        return _("{deadline}; {database} for service {service}: {state}.", deadline=deadline,
                 database=weakest.database_name, service=task.service_number, state=state)

    values = {"deadline": deadline, "database": _data_name(ctx, weakest), "service": task.service_number,
              "ratio": format_ratio(weakest.completeness_mean, ctx.language, 0)}
    failing = weakest.fields_below_threshold or 0
    if task.deadline_passed and failing:
        sentence = _("{deadline}; the completeness of {database} data for service {service} is still {ratio}", **values)
    else:
        sentence = _("{deadline}; the completeness of {database} data for service {service} is {ratio}", **values)
    if failing:
        sentence += _(" ({failing} of {total} fields below the threshold, lowest {lowest})", failing=failing,
                      total=weakest.fields_checked, lowest=format_ratio(weakest.completeness_min, ctx.language, 0))
    signatures = weakest.signature_present_ratio
    if signatures is not None and signatures < (weakest.signature_present_threshold or 0.0):
        sentence += _(", signed records {ratio}", ratio=format_ratio(signatures, ctx.language))
    return sentence + "."


def _data_name(ctx: ViewContext, item: EvidenceItem) -> str:
    """Return the database's short name as a common noun: "khám chữa bệnh", "identity card"."""
    name = ctx.short_database_name(ctx.catalog.database(item.database_code))
    if len(name) > 1 and name[1].islower():
        name = name[0].lower() + name[1:]
    return name


def _weakest(evidence: list[EvidenceItem]) -> EvidenceItem | None:
    """Return the evidence that most needs attention: a failing database first, then the least complete."""
    if not evidence:
        return None
    order = {CellStatus.BROKEN: 0, CellStatus.NO_DATA: 1, CellStatus.NOT_CHECKED: 2, CellStatus.DEGRADED: 3,
             CellStatus.OK: 4}
    return min(evidence, key=lambda item: (order[item.status],
                                           item.completeness_mean if item.completeness_mean is not None else 1.0))

