"""Scheduling and task settings of the monitoring DAGs.

Defaults live in ``include/monitoring.yaml``; environment variables override them without a
code change: ``INTEGRATION_MONITOR_SCHEDULE`` (every database), ``INTEGRATION_MONITOR_SCHEDULE__<CODE>``
(one database, e.g. ``INTEGRATION_MONITOR_SCHEDULE__DAN_CU``), ``INTEGRATION_MONITOR_RETRIES`` and
``INTEGRATION_MONITOR_RETRY_DELAY_SECONDS``. A schedule of ``none`` disables scheduling (manual runs).
The status store's daily compaction runs on ``compact_schedule`` (``INTEGRATION_MONITOR_COMPACT_SCHEDULE``)
and keeps ``keep_days`` of raw rows and ``keep_detail_days`` of field and service-access rows.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from integration_monitor.catalog.errors import CatalogError
from integration_monitor.paths import SETTINGS_ENV, settings_path

__all__ = ["SETTINGS_ENV", "MonitoringSettings", "load_settings", "settings_path"]


class MonitoringSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_schedule: str = "*/15 * * * *"
    schedules: dict[str, str] = Field(default_factory=dict)
    retries: int = Field(default=2, ge=0, le=10)
    retry_delay_seconds: float = Field(default=60.0, ge=0)
    owner: str = "integration-monitor"
    dashboard_url: str = "http://127.0.0.1:8080/integration-monitor/"
    # 19:30 UTC is 02:30 in Vietnam (UTC+7), outside office hours.
    compact_schedule: str = "30 19 * * *"
    # Longer than the dashboard's 30-day window, so a raw drill-down into that window still works.
    keep_days: float = Field(default=35.0, gt=0)
    keep_detail_days: float = Field(default=7.0, gt=0)

    @model_validator(mode="after")
    def _detail_within_raw(self) -> MonitoringSettings:
        if self.keep_detail_days > self.keep_days:
            raise ValueError(f"keep_detail_days ({self.keep_detail_days}) cannot exceed keep_days ({self.keep_days})")
        return self

    def schedule_for(self, database_code: str) -> str | None:
        configured = (
            os.environ.get(f"INTEGRATION_MONITOR_SCHEDULE__{database_code.upper()}")
            or os.environ.get("INTEGRATION_MONITOR_SCHEDULE")
            or self.schedules.get(database_code)
            or self.default_schedule
        )
        return None if configured.strip().lower() in {"none", "manual", ""} else configured.strip()

    def compaction_schedule(self) -> str | None:
        configured = os.environ.get("INTEGRATION_MONITOR_COMPACT_SCHEDULE") or self.compact_schedule
        return None if configured.strip().lower() in {"none", "manual", ""} else configured.strip()

    @property
    def effective_retries(self) -> int:
        return int(os.environ.get("INTEGRATION_MONITOR_RETRIES", self.retries))

    @property
    def effective_retry_delay_seconds(self) -> float:
        return float(os.environ.get("INTEGRATION_MONITOR_RETRY_DELAY_SECONDS", self.retry_delay_seconds))


@lru_cache(maxsize=4)
def load_settings(path: str | None = None) -> MonitoringSettings:
    file = Path(path) if path else settings_path()
    if not file.is_file():
        return MonitoringSettings()
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise CatalogError(file, "file", f"invalid YAML: {error}") from None
    try:
        return MonitoringSettings.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors())
        raise CatalogError(file, "settings", problems) from None
