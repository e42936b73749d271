"""Paths of the project's files, found without importing the catalog's parser or models.

The DAG file imports this module at every parse, so it uses the standard library only.
"""

from __future__ import annotations

import os
from pathlib import Path

CATALOG_ENV = "INTEGRATION_MONITOR_CATALOG"
HOME_ENV = "INTEGRATION_MONITOR_HOME"
SETTINGS_ENV = "INTEGRATION_MONITOR_SETTINGS"


def project_root() -> Path:
    """Return the repository root: the folder that contains ``include/appendix_data``."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "include" / "appendix_data").is_dir():
            return parent
    return Path.cwd()


def default_catalog_root() -> Path:
    configured = os.environ.get(CATALOG_ENV)
    if configured:
        return Path(configured)
    return project_root() / "include" / "appendix_data"


def settings_path() -> Path:
    """Return the monitoring settings file: ``INTEGRATION_MONITOR_SETTINGS`` or ``include/monitoring.yaml``."""
    return Path(os.environ.get(SETTINGS_ENV) or project_root() / "include" / "monitoring.yaml")
