"""Alert texts for operators, in Vietnamese by default and in English.

A message states what broke, where (database and owning ministry), since when, the failure
kind in words, the affected public services and the dashboard link. It is built only from
statuses, failure kinds, counts, ratios, field codes and catalog names, never from record
values.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field

from babel.numbers import format_decimal, format_percent

from integration_monitor.alerts.models import AlertKind
from integration_monitor.i18n import Translate, resolve_language, translator
from integration_monitor.labels import block_kind_label, failure_kind_label
from integration_monitor.service_codes import service_code

# Vietnam has kept UTC+7 without daylight saving time since June 1975 (tz database, Asia/Ho_Chi_Minh).
VIETNAM_TIME = dt.timezone(dt.timedelta(hours=7), "UTC+7")
MAX_LISTED_FIELDS = 10

SCOPE_DATABASE = "database"
SCOPE_SERVICE = "service"


@dataclass(frozen=True)
class DatabaseRef:
    code: str
    name: str
    name_en: str
    owner_code: str
    owner_name: str
    owner_name_en: str


@dataclass(frozen=True)
class ServiceRef:
    number: int
    name: str
    name_en: str


@dataclass(frozen=True)
class FieldFigure:
    code: str
    completeness: float
    threshold: float


@dataclass(frozen=True)
class CheckFigures:
    """Counts and ratios of the newest check of a database."""

    record_count: int = 0
    http_status: int | None = None
    attempts: int = 1
    latency_ms: float | None = None
    absent_fields: tuple[str, ...] = ()
    failing_fields: tuple[FieldFigure, ...] = ()
    signature_present_ratio: float | None = None
    signature_valid_ratio: float | None = None
    denied_services: tuple[int, ...] = ()


@dataclass(frozen=True)
class ServiceBlock:
    """One reason why a service is not end-to-end ready: a database and a blocking kind."""

    database: DatabaseRef
    kind: str


@dataclass(frozen=True)
class AlertEvent:
    """Facts about one incident from which alert messages are built."""

    kind: AlertKind
    scope: str
    status: str
    failure_kind: str | None
    opened_at: dt.datetime
    at: dt.datetime
    consecutive_failures: int
    databases: tuple[DatabaseRef, ...]
    services: tuple[ServiceRef, ...]
    dashboard_url: str
    closed_at: dt.datetime | None = None
    figures: CheckFigures | None = None
    blocks: tuple[ServiceBlock, ...] = ()
    past_failure_kinds: tuple[str, ...] = field(default_factory=tuple)

    @property
    def outage(self) -> dt.timedelta:
        return (self.closed_at or self.at) - self.opened_at


@dataclass(frozen=True)
class AlertMessage:
    kind: AlertKind
    language: str
    title: str
    text: str
    html: str


def render(event: AlertEvent, language: str | None = None) -> AlertMessage:
    """Build the title, plain text and HTML of an alert in one language."""
    lang = resolve_language(language)
    _ = translator("alerts", lang)
    title = _title(event, _, lang)
    sections = _sections(event, _, lang)

    text_lines: list[str] = []
    html_parts = [f"<p><strong>{html.escape(title)}</strong></p>"]
    for heading, lines in sections:
        if heading:
            text_lines.append(heading)
            html_parts.append(f"<p>{html.escape(heading)}</p>")
            text_lines.extend(f"- {line}" for line in lines)
            html_parts.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>")
        else:
            text_lines.extend(lines)
            html_parts.append("<p>" + "<br>".join(html.escape(line) for line in lines) + "</p>")
    link_label = _("Dashboard: {url}", url=event.dashboard_url)
    text_lines.append(link_label)
    html_parts.append(f'<p><a href="{html.escape(event.dashboard_url, quote=True)}">{html.escape(link_label)}</a></p>')
    return AlertMessage(event.kind, lang, title, "\n".join(text_lines), "\n".join(html_parts))


def _title(event: AlertEvent, _: Translate, lang: str) -> str:
    subject = _subject_name(event, lang)
    duration = format_duration(event.outage, _)
    if event.kind is AlertKind.RECOVERED:
        return _("[Recovered] {subject}: working again after {duration}", subject=subject, duration=duration)
    state = status_words(event.status, _)
    if event.kind is AlertKind.REMINDER:
        return _("[Reminder] {subject}: {state} for {duration}", subject=subject, state=state, duration=duration)
    return _("[Incident] {subject}: {state}", subject=subject, state=state)


def _subject_name(event: AlertEvent, lang: str) -> str:
    if event.scope == SCOPE_SERVICE:
        service = event.services[0]
        return f"{service_code(service.number)} {service.name_en if lang == 'en' else service.name}"
    database = event.databases[0]
    return database.name_en if lang == "en" else database.name


def _sections(event: AlertEvent, _: Translate, lang: str) -> list[tuple[str | None, list[str]]]:
    sections: list[tuple[str | None, list[str]]] = [(None, _where_lines(event, _, lang) + _when_lines(event, _, lang))]

    if event.kind is not AlertKind.RECOVERED:
        sections.append((None, _what_lines(event, _, lang)))
    elif event.past_failure_kinds:
        kinds = ", ".join(failure_kind_label(kind, lang) for kind in event.past_failure_kinds)
        sections.append((None, [_("Failure during the outage: {kinds}", kinds=kinds)]))

    if event.blocks:
        sections.append((_("Blocking problems:"), [
            _("{database}: {problem}", database=_database_label(block.database, lang), problem=block_kind_label(block.kind, lang))
            for block in event.blocks
        ]))

    heading = (_("Public services that were affected ({count}):", count=len(event.services))
               if event.kind is AlertKind.RECOVERED
               else _("Affected public services ({count}):", count=len(event.services)))
    service_lines = [_service_label(service, lang) for service in event.services]
    sections.append((heading, service_lines or [_("none in the catalog")]))
    return sections


def _where_lines(event: AlertEvent, _: Translate, lang: str) -> list[str]:
    lines = []
    if event.scope == SCOPE_SERVICE:
        lines.append(_("Public service: {service}", service=_service_label(event.services[0], lang)))
    for database in event.databases:
        lines.append(_("Database: {database}", database=_database_label(database, lang)))
    owners = sorted({database.owner_name_en if lang == "en" else database.owner_name for database in event.databases})
    if owners:
        lines.append(_("Owning ministry: {owner}", owner=", ".join(owners)))
    return lines


def _when_lines(event: AlertEvent, _: Translate, lang: str) -> list[str]:
    since = format_time(event.opened_at, _, lang)
    if event.kind is AlertKind.RECOVERED and event.closed_at is not None:
        return [
            _("Outage: from {start} to {end}", start=since, end=format_time(event.closed_at, _, lang)),
            _("Outage duration: {duration}", duration=format_duration(event.outage, _)),
        ]
    return [
        _("Since: {time}", time=since),
        _("Consecutive failed checks: {count}", count=event.consecutive_failures),
    ]


def _what_lines(event: AlertEvent, _: Translate, lang: str) -> list[str]:
    lines = [_("Status: {status} ({words})", status=event.status, words=status_words(event.status, _))]
    if event.failure_kind:
        lines.append(_("Failure kind: {words} ({kind})", words=failure_kind_label(event.failure_kind, lang), kind=event.failure_kind))
    figures = event.figures
    if figures is None:
        return lines

    measured = [_("records: {count}", count=figures.record_count), _("attempts: {count}", count=figures.attempts)]
    if figures.http_status is not None:
        measured.insert(0, f"HTTP {figures.http_status}")
    if figures.latency_ms is not None:
        measured.append(_("response time: {seconds} s", seconds=format_decimal(round(figures.latency_ms / 1000, 1), locale=lang)))
    lines.append(_("Last check: {figures}", figures="; ".join(measured)))

    if figures.absent_fields:
        lines.append(_("Fields absent from every record ({count}): {fields}",
                       count=len(figures.absent_fields), fields=_listed(figures.absent_fields)))
    if figures.failing_fields:
        shown = [
            _("{field} {completeness} (threshold {threshold})", field=item.code,
              completeness=format_ratio(item.completeness, lang), threshold=format_ratio(item.threshold, lang))
            for item in figures.failing_fields
        ]
        lines.append(_("Fields below their completeness threshold ({count}): {fields}",
                       count=len(figures.failing_fields), fields=_listed(shown)))
    if figures.signature_present_ratio is not None and figures.signature_present_ratio < 1:
        lines.append(_("Records with a digital signature: {ratio}", ratio=format_ratio(figures.signature_present_ratio, lang)))
    if figures.signature_valid_ratio is not None and figures.signature_valid_ratio < 1:
        lines.append(_("Valid digital signatures: {ratio}", ratio=format_ratio(figures.signature_valid_ratio, lang)))
    if figures.denied_services:
        codes = ", ".join(service_code(number) for number in figures.denied_services)
        lines.append(_("Access refused for the codes of services: {codes}", codes=codes))
    return lines


def _listed(items: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED_FIELDS])
    return shown + (f", … (+{len(items) - MAX_LISTED_FIELDS})" if len(items) > MAX_LISTED_FIELDS else "")


def _database_label(database: DatabaseRef, lang: str) -> str:
    return f"{database.name_en if lang == 'en' else database.name} ({database.code})"


def _service_label(service: ServiceRef, lang: str) -> str:
    # The Vietnamese name is the service's official name, so English messages keep it too.
    if lang == "en":
        return f"{service_code(service.number)} {service.name_en} ({service.name})"
    return f"{service_code(service.number)} {service.name}"


def status_words(status: str, _: Translate) -> str:
    words = {
        "BROKEN": _("connection broken"),
        "DEGRADED": _("data quality degraded"),
        "NO_DATA": _("no data returned"),
        "NOT_READY": _("not end-to-end ready"),
    }
    return words.get(status, status)


def format_time(moment: dt.datetime, _: Translate, lang: str) -> str:
    local = moment.astimezone(VIETNAM_TIME)
    if lang == "en":
        return local.strftime("%Y-%m-%d %H:%M") + " (UTC+7)"
    return _("{clock} on {date} (UTC+7)", clock=local.strftime("%H:%M"), date=local.strftime("%d/%m/%Y"))


def format_duration(span: dt.timedelta, _: Translate) -> str:
    """Return a span as days, hours and minutes, or seconds below one minute."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return _("{count} s", count=seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(_("{count} d", count=days))
    if hours:
        parts.append(_("{count} h", count=hours))
    if minutes and not days:
        parts.append(_("{count} min", count=minutes))
    return " ".join(parts)


def format_ratio(value: float, lang: str) -> str:
    return format_percent(value, "#,##0.#%", locale=lang)
