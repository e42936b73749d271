"""``integration-monitor maintenance``, ``silence`` and ``alerts``: windows and alert history.

Times without a UTC offset are read as Vietnam time (UTC+7), and reports show Vietnam time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import re
import sys
from typing import Any

from integration_monitor.i18n import LANGUAGES

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def register(subparsers: argparse._SubParsersAction) -> None:
    for kind, help_text in (
        ("maintenance", "planned maintenance windows that suppress a database's alerts"),
        ("silence", "silences that mute a database's alerts for a while (same as maintenance, another label)"),
    ):
        parser = subparsers.add_parser(kind, help=help_text)
        commands = parser.add_subparsers(dest=f"{kind}_command", required=True)

        add = commands.add_parser("add", help=f"add a {kind} window for one national database")
        add.add_argument("database", help="database code from the catalog, e.g. dat_dai")
        add.add_argument("--start", default=None,
                         help="start, ISO 8601 (e.g. 2026-01-05T22:00); no offset means UTC+7 (default: now)")
        end_group = add.add_mutually_exclusive_group(required=True)
        end_group.add_argument("--end", help="end, ISO 8601; no offset means UTC+7")
        end_group.add_argument("--duration", help="length from the start, e.g. 90m, 2h, 1d12h")
        add.add_argument("--reason", required=True, help="why alerts are suppressed (shown in the history)")
        add.add_argument("--by", default=None, help="who adds the window (default: the login name)")
        add.set_defaults(handler=run_window_add, window_kind=kind)

        listing = commands.add_parser("list", help=f"list current and future {kind} windows")
        listing.add_argument("--all", action="store_true", help="include windows that are over")
        listing.add_argument("--json", action="store_true", help="print JSON")
        listing.add_argument("--lang", choices=LANGUAGES, default=None, help="language of the report (default: vi)")
        listing.set_defaults(handler=run_window_list, window_kind=kind)

        end = commands.add_parser("end", help=f"end a {kind} window now")
        end.add_argument("id", type=int, help="window id from the list command")
        end.add_argument("--by", default=None, help="who ends the window (default: the login name)")
        end.set_defaults(handler=run_window_end, window_kind=kind)

    alerts = subparsers.add_parser("alerts", help="alert history, configuration check and test messages")
    alert_commands = alerts.add_subparsers(dest="alerts_command", required=True)
    history = alert_commands.add_parser("history", help="list recent alerts and each channel's delivery result")
    history.add_argument("--database", default=None, help="only alerts about this database code")
    history.add_argument("--limit", type=int, default=20, help="number of alerts, newest first (default: 20)")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.add_argument("--lang", choices=LANGUAGES, default=None, help="language of the report (default: vi)")
    history.set_defaults(handler=run_history)

    check = alert_commands.add_parser("check", help="validate include/alerting.yaml and look up each channel's connection")
    check.set_defaults(handler=run_check)

    test = alert_commands.add_parser("test", help="send a test message through one channel")
    test.add_argument("channel", help="channel name from include/alerting.yaml")
    test.add_argument("--lang", choices=LANGUAGES, default=None, help="message language (default: the channel's)")
    test.set_defaults(handler=run_test)


# Parsing of times and durations


def parse_time(text: str) -> dt.datetime:
    """Parse an ISO 8601 time. A time without an offset is Vietnam time (UTC+7)."""
    from integration_monitor.alerts.messages import VIETNAM_TIME

    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=VIETNAM_TIME)
    return value.astimezone(dt.UTC)


def parse_duration(text: str) -> dt.timedelta:
    """Parse a duration such as ``90m``, ``2h`` or ``1d12h``. Raise ValueError on other text or on zero."""
    match = _DURATION.match(text.strip().lower())
    if not match or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r}, expected for example 90m, 2h or 1d12h")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    span = dt.timedelta(days=days, hours=hours, minutes=minutes)
    if span <= dt.timedelta(0):
        raise ValueError(f"duration {text!r} is zero")
    return span


# Maintenance windows and silences


def run_window_add(args: argparse.Namespace) -> int:
    from integration_monitor.alerts.models import WindowKind
    from integration_monitor.alerts.windows import WindowError, add_window
    from integration_monitor.catalog.loader import load_catalog_cached
    from integration_monitor.i18n import translator

    _ = translator("alerts", None)
    codes = [database.code for database in load_catalog_cached().databases]
    if args.database not in codes:
        return _fail(_("Unknown database code {code}; known codes: {codes}.", code=args.database, codes=", ".join(codes)))

    now = dt.datetime.now(dt.UTC)
    try:
        starts_at = parse_time(args.start) if args.start else now
        ends_at = parse_time(args.end) if args.end else starts_at + parse_duration(args.duration)
    except ValueError as error:
        return _fail(_("Invalid time or duration: {error}.", error=error))

    with _session() as session:
        try:
            window = add_window(session, kind=WindowKind(args.window_kind), database_code=args.database,
                                starts_at=starts_at, ends_at=ends_at, reason=args.reason,
                                created_by=args.by or _login_name(), now=now)
        except WindowError as error:
            return _fail(_translated_error(error, _))
        session.commit()
        print(_("Added {kind} window {id} for {database}: {start} to {end}.", kind=_kind_label(args.window_kind, _),
                id=window.id, database=args.database, start=_local(window.starts_at), end=_local(window.ends_at)))
    return 0


def run_window_list(args: argparse.Namespace) -> int:
    from integration_monitor.alerts.models import WindowKind
    from integration_monitor.alerts.windows import list_windows
    from integration_monitor.i18n import translator

    _ = translator("alerts", args.lang)
    now = dt.datetime.now(dt.UTC)
    with _session() as session:
        windows = list_windows(session, kind=WindowKind(args.window_kind), now=now, include_past=args.all)

    if args.json:
        json.dump([_window_as_dict(window, now) for window in windows], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not windows:
        print(_("No {kind} windows.", kind=_kind_label(args.window_kind, _)))
        return 0
    for window in windows:
        print(_("#{id} {database} [{state}] {start} → {end}, by {by}: {reason}", id=window.id,
                database=window.database_code, state=_state_label(_window_state(window, now), _),
                start=_local(window.starts_at), end=_local(window.effective_end), by=window.created_by,
                reason=window.reason))
    return 0


def run_window_end(args: argparse.Namespace) -> int:
    from integration_monitor.alerts.models import WindowKind
    from integration_monitor.alerts.windows import WindowError, end_window
    from integration_monitor.i18n import translator

    _ = translator("alerts", None)
    with _session() as session:
        try:
            window = end_window(session, args.id, kind=WindowKind(args.window_kind), ended_by=args.by or _login_name(),
                                now=dt.datetime.now(dt.UTC))
        except WindowError as error:
            return _fail(_translated_error(error, _))
        session.commit()
        print(_("Ended {kind} window {id} for {database} at {end}.", kind=_kind_label(args.window_kind, _),
                id=window.id, database=window.database_code, end=_local(window.effective_end)))
    return 0


def _window_state(window: Any, now: dt.datetime) -> str:
    if window.effective_end <= max(now, window.starts_at):
        return "ended" if window.ended_at is not None else "expired"
    return "active" if window.starts_at <= now else "scheduled"


def _window_as_dict(window: Any, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": window.id,
        "kind": window.kind,
        "database": window.database_code,
        "starts_at": window.starts_at.isoformat(),
        "ends_at": window.ends_at.isoformat(),
        "ended_at": window.ended_at.isoformat() if window.ended_at else None,
        "state": _window_state(window, now),
        "reason": window.reason,
        "created_by": window.created_by,
        "ended_by": window.ended_by,
    }


# Alert history, configuration check and test message


def run_history(args: argparse.Namespace) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from integration_monitor.alerts.models import Alert
    from integration_monitor.i18n import translator

    _ = translator("alerts", args.lang)
    with _session() as session:
        query = select(Alert).options(selectinload(Alert.deliveries)).order_by(Alert.created_at.desc(), Alert.id.desc())
        if args.database:
            query = query.where(Alert.scope == "database", Alert.subject == args.database)
        alerts = list(session.scalars(query.limit(max(1, args.limit))))

    if args.json:
        json.dump([_alert_as_dict(alert) for alert in alerts], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not alerts:
        print(_("No alerts recorded."))
        return 0
    for alert in alerts:
        print(_("#{id} {time} {kind} {scope} {subject} [{outcome}]: {title}", id=alert.id, time=_local(alert.created_at),
                kind=alert.kind, scope=alert.scope, subject=alert.subject, outcome=alert.outcome, title=alert.title))
        for delivery in alert.deliveries:
            detail = f" — {delivery.detail}" if delivery.detail else ""
            print(f"    {delivery.channel} ({delivery.channel_type}, {delivery.language}): {delivery.outcome}{detail}")
    return 0


def _alert_as_dict(alert: Any) -> dict[str, Any]:
    return {
        "id": alert.id,
        "incident_id": alert.incident_id,
        "scope": alert.scope,
        "subject": alert.subject,
        "kind": alert.kind,
        "run_id": alert.run_id,
        "event_at": alert.event_at.isoformat(),
        "created_at": alert.created_at.isoformat(),
        "status": alert.status,
        "failure_kind": alert.failure_kind,
        "consecutive_failures": alert.consecutive_failures,
        "databases": list(alert.databases),
        "affected_services": list(alert.affected_services),
        "outage_seconds": alert.outage_seconds,
        "suppressed": alert.suppressed,
        "maintenance_id": alert.maintenance_id,
        "outcome": alert.outcome,
        "title": alert.title,
        "deliveries": [
            {"channel": item.channel, "type": item.channel_type, "conn_id": item.conn_id, "language": item.language,
             "outcome": item.outcome, "detail": item.detail, "attempted_at": item.attempted_at.isoformat(),
             "duration_ms": item.duration_ms}
            for item in alert.deliveries
        ],
    }


def run_check(args: argparse.Namespace) -> int:
    from integration_monitor.alerts.config import alerting_path, load_alerting_config
    from integration_monitor.catalog.errors import CatalogError
    from integration_monitor.catalog.loader import load_catalog_cached

    catalog = load_catalog_cached()
    try:
        config = load_alerting_config(known_owners={owner.code for owner in catalog.owners},
                                      known_databases={database.code for database in catalog.databases})
    except CatalogError as error:
        print(f"error: invalid alerting file: {error}", file=sys.stderr)
        return 2

    print(f"{alerting_path()}: failure_threshold {config.failure_threshold}, "
          f"reminder every {config.reminder_interval_minutes:g} min, service alerts {config.service_alerts.value}, "
          f"{len(config.channels)} channels")
    missing = 0
    for channel in config.channels:
        found = _connection_exists(channel.conn_id)
        missing += 0 if found or not channel.enabled else 1
        state = "enabled" if channel.enabled else "disabled"
        print(f"  {channel.name}: {channel.type.value} via connection {channel.conn_id} "
              f"({'found' if found else 'NOT FOUND'}), {state}, owners {', '.join(channel.owners) or 'all'}")
    return 1 if missing else 0


def run_test(args: argparse.Namespace) -> int:
    from integration_monitor.alerts.channels import deliver
    from integration_monitor.alerts.config import channel_language, load_alerting_config
    from integration_monitor.alerts.messages import AlertMessage
    from integration_monitor.alerts.models import AlertKind, DeliveryOutcome
    from integration_monitor.i18n import translator

    config = load_alerting_config()
    try:
        channel = config.channel(args.channel)
    except KeyError:
        names = ", ".join(item.name for item in config.channels) or "none"
        print(f"error: no channel named {args.channel!r}; channels: {names}", file=sys.stderr)
        return 2
    language = args.lang or channel_language(channel)
    _ = translator("alerts", language)
    title = _("[Test] Alert channel {channel} of the integration monitor", channel=channel.name)
    text = _("This is a test message. Alerts about national databases will arrive through this channel.")
    message = AlertMessage(AlertKind.OPENED, language, title, text, f"<p>{text}</p>")
    result = deliver(channel, message, {})
    if result.outcome is DeliveryOutcome.SENT:
        print(f"sent through {channel.name} in {result.duration_ms:.0f} ms")
        return 0
    print(f"error: channel {channel.name} failed: {result.detail}", file=sys.stderr)
    return 1


def _connection_exists(conn_id: str) -> bool:
    from airflow.sdk import BaseHook

    try:
        BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - any lookup failure means the channel cannot send
        return False
    return True


# Helpers


def _session():  # type: ignore[no-untyped-def]
    from integration_monitor.store.engine import session_factory
    from integration_monitor.store.migrate import upgrade

    upgrade()
    return session_factory()()


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _local(moment: dt.datetime) -> str:
    from integration_monitor.alerts.messages import VIETNAM_TIME

    return moment.astimezone(VIETNAM_TIME).strftime("%Y-%m-%d %H:%M UTC+7")


def _kind_label(kind: str, _: Any) -> str:
    return _("maintenance") if kind == "maintenance" else _("silence")


def _state_label(state: str, _: Any) -> str:
    labels = {"active": _("active"), "scheduled": _("scheduled"), "ended": _("ended early"), "expired": _("expired")}
    return labels[state]


def _translated_error(error: Any, _: Any) -> str:
    values = {key: _local(value) if isinstance(value, dt.datetime) else value for key, value in error.values.items()}
    return _(error.message_id, **values)


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2
