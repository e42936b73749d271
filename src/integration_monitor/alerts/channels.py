"""Delivery of one alert message through one channel, with Airflow's notifiers.

Notifiers are called with ``notify(context)``, so the message text is never rendered as a
Jinja template: a reason containing ``{{`` stays text.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from airflow.providers.apprise.notifications.apprise import AppriseNotifier

from integration_monitor.alerts.config import ChannelConfig, ChannelType
from integration_monitor.alerts.messages import AlertMessage
from integration_monitor.alerts.models import AlertKind, DeliveryOutcome

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 500


class DeliveryError(RuntimeError):
    """A channel did not accept a message."""


@dataclass(frozen=True)
class DeliveryResult:
    outcome: DeliveryOutcome
    detail: str | None  # the failure reason, or the window that suppressed the delivery
    duration_ms: float | None


class CheckedAppriseNotifier(AppriseNotifier):
    """AppriseNotifier that raises ``DeliveryError`` when Apprise reports a failed delivery.

    ``AppriseHook.notify`` of apache-airflow-providers-apprise 2.4.1 drops the result of
    ``apprise.Apprise.notify``, so a refused webhook would otherwise count as sent. This class
    reads the same connection through the same hook and checks the result.
    """

    def notify(self, context: Any) -> None:
        import apprise

        targets = apprise.Apprise()
        connection = self.hook.get_connection(self.apprise_conn_id)
        self.hook.set_config_from_conn(conn=connection, apprise_obj=targets)
        if len(targets) == 0:
            raise DeliveryError(f"connection {self.apprise_conn_id} has no Apprise URL that Apprise accepts")

        result = targets.notify(
            body=self.body,
            title=self.title or "",
            notify_type=self.notify_type,
            body_format=self.body_format,
            tag=self.tag,
        )
        if not result:
            raise DeliveryError(_describe_apprise_failure(result, self.apprise_conn_id, self.tag))


def _describe_apprise_failure(result: Any, conn_id: str, tag: Any) -> str:
    status = getattr(getattr(result, "status", None), "name", str(result))
    if status == "NOMATCH":
        return f"no URL of connection {conn_id} has the tag {tag!r}"
    failed = [item for item in result if getattr(getattr(item, "status", None), "name", "") != "SUCCESS"]
    # NotifyResult.url is Apprise's privacy form of the URL, without passwords or tokens (apprise 2.3.0).
    targets = ", ".join(f"{item.name} {item.url}" for item in failed) or "no service"
    warnings = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR")]
    detail = f": {warnings[-1]}" if warnings else ""
    return f"Apprise status {status}, {len(failed)} of {len(result)} URLs failed ({targets}){detail}"


def build_notifier(channel: ChannelConfig, message: AlertMessage) -> Any:
    """Return the Airflow notifier that sends ``message`` through ``channel``."""
    if channel.type is ChannelType.SMTP:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        return SmtpNotifier(
            to=list(channel.to),
            from_email=channel.from_email,
            subject=message.title,
            html_content=message.html,
            smtp_conn_id=channel.conn_id,
        )

    from apprise import NotifyFormat, NotifyType

    notify_type = NotifyType.SUCCESS if message.kind is AlertKind.RECOVERED else NotifyType.FAILURE
    return CheckedAppriseNotifier(
        body=message.text,
        title=message.title,
        notify_type=notify_type,
        body_format=NotifyFormat.TEXT,
        tag=channel.tag,
        apprise_conn_id=channel.conn_id,
    )


def deliver(channel: ChannelConfig, message: AlertMessage, context: dict[str, Any]) -> DeliveryResult:
    """Send ``message`` through ``channel`` and return the outcome.

    Any ``Exception`` from the notifier becomes a ``failed`` result, so one channel's failure
    never stops the others.
    """
    started = time.monotonic()
    try:
        build_notifier(channel, message).notify(context)
    except Exception as error:  # noqa: BLE001 - one failing channel must not stop the others
        elapsed = (time.monotonic() - started) * 1000
        reason = _error_text(error)
        log.warning("Alert channel %s (%s, connection %s) failed after %.0f ms: %s",
                    channel.name, channel.type.value, channel.conn_id, elapsed, reason)
        return DeliveryResult(DeliveryOutcome.FAILED, reason, round(elapsed, 1))

    elapsed = (time.monotonic() - started) * 1000
    log.info("Alert sent through channel %s (%s) in %.0f ms", channel.name, channel.type.value, elapsed)
    return DeliveryResult(DeliveryOutcome.SENT, None, round(elapsed, 1))


def _error_text(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"
