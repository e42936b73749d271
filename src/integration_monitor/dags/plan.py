"""The DAG plan: the part of the catalog and the settings that the DAG file needs, cached between parses.

The dag-processor parses the DAG file in a new process every 30 seconds. Reading and
validating the catalog (20 YAML files, 795 fields) used to cost more than building the DAGs,
although the files seldom change. The plan contains only what the DAGs are built from: each
database's code, name, owning ministry, schedule and Vietnamese doc, the rollup's doc, the
store compaction's schedule and retention, and the retry settings. It is written as JSON,
in a file named after a key made of:

- the bytes of every file under the catalog folder and of the settings file,
- the environment variables that change schedules or retries,
- the source of the modules that read the catalog and the settings and shape the plan.

Any change to one of them misses the cache, so the catalog is read and validated again and
a broken catalog still fails the DAG file with a message naming the bad entry. The cache
contains no secret and no record value. It lives in ``INTEGRATION_MONITOR_CACHE_DIR``, else in
``$XDG_CACHE_HOME/integration-monitor`` or ``~/.cache/integration-monitor``; ``off``
switches it off. A cache that cannot be read or written is logged and skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from integration_monitor.paths import default_catalog_root, settings_path

log = logging.getLogger(__name__)

CACHE_DIR_ENV = "INTEGRATION_MONITOR_CACHE_DIR"
PLAN_FILE_PATTERN = "dag-plan-*.json"
PLANS_KEPT = 8  # plans of other catalogs (tests, scaled benchmarks) kept beside the current one
PLAN_FORMAT = 1
# Environment variables read while the plan is made (see pipeline.settings).
PLAN_ENV_NAMES = ("INTEGRATION_MONITOR_RETRIES", "INTEGRATION_MONITOR_RETRY_DELAY_SECONDS",
                  "INTEGRATION_MONITOR_COMPACT_SCHEDULE")
PLAN_ENV_PREFIX = "INTEGRATION_MONITOR_SCHEDULE"
# The code that reads the catalog and settings and shapes the plan, relative to the package.
PLAN_SOURCES = ("dags/plan.py", "dags/docs.py", "catalog/loader.py", "catalog/models.py", "pipeline/settings.py")


@dataclass(frozen=True)
class DatabasePlan:
    code: str
    name: str
    owner: str
    schedule: str | None
    doc_md: str


@dataclass(frozen=True)
class CompactionPlan:
    schedule: str | None
    keep_days: float
    keep_detail_days: float
    doc_md: str


@dataclass(frozen=True)
class DagPlan:
    databases: tuple[DatabasePlan, ...]
    rollup_doc_md: str
    compaction: CompactionPlan
    retries: int
    retry_delay_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "databases": [asdict(database) for database in self.databases],
            "rollup_doc_md": self.rollup_doc_md,
            "compaction": asdict(self.compaction),
            "retries": self.retries,
            "retry_delay_seconds": self.retry_delay_seconds,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> DagPlan:
        return cls(
            databases=tuple(DatabasePlan(**entry) for entry in document["databases"]),
            rollup_doc_md=str(document["rollup_doc_md"]),
            compaction=CompactionPlan(**document["compaction"]),
            retries=int(document["retries"]),
            retry_delay_seconds=float(document["retry_delay_seconds"]),
        )


def make_plan() -> DagPlan:
    """Read and validate the catalog and the settings, and keep what the DAGs need."""
    from integration_monitor.catalog.loader import load_catalog_cached
    from integration_monitor.dags.docs import compaction_dag_doc, database_dag_doc, rollup_dag_doc
    from integration_monitor.pipeline.settings import load_settings

    catalog = load_catalog_cached()
    settings = load_settings()
    databases = []
    for database in catalog.databases:
        schedule = settings.schedule_for(database.code)
        databases.append(DatabasePlan(
            code=database.code,
            name=database.name,
            owner=catalog.owner(database.owner).name,
            schedule=schedule,
            doc_md=database_dag_doc(database, catalog, schedule),
        ))
    return DagPlan(
        databases=tuple(databases),
        rollup_doc_md=rollup_dag_doc(catalog),
        compaction=CompactionPlan(
            schedule=settings.compaction_schedule(),
            keep_days=settings.keep_days,
            keep_detail_days=settings.keep_detail_days,
            doc_md=compaction_dag_doc(settings.compaction_schedule(), settings.keep_days, settings.keep_detail_days),
        ),
        retries=settings.effective_retries,
        retry_delay_seconds=settings.effective_retry_delay_seconds,
    )


def plan_key() -> str:
    """Hash everything the plan is made from."""
    digest = hashlib.sha256(f"plan format {PLAN_FORMAT}\n".encode())
    package = Path(__file__).resolve().parent.parent
    for source in PLAN_SOURCES:
        _add_file(digest, source, package / source)
    catalog_root = default_catalog_root()
    digest.update(f"catalog {catalog_root.resolve()}\n".encode())
    if catalog_root.is_dir():
        for path in sorted(item for item in catalog_root.rglob("*") if item.is_file()):
            _add_file(digest, path.relative_to(catalog_root).as_posix(), path)
    _add_file(digest, "settings", settings_path())
    for name in sorted(os.environ):
        if name in PLAN_ENV_NAMES or name.startswith(PLAN_ENV_PREFIX):
            digest.update(f"env {name}={os.environ[name]}\n".encode())
    return digest.hexdigest()


def _add_file(digest: Any, label: str, path: Path) -> None:
    try:
        content = path.read_bytes()
    except OSError:
        content = b"<absent>"
    digest.update(f"file {label} {len(content)}\n".encode())
    digest.update(content)


def cache_dir() -> Path | None:
    configured = os.environ.get(CACHE_DIR_ENV, "").strip()
    if configured.lower() in {"off", "none", "0"}:
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "integration-monitor"


def load_plan() -> DagPlan:
    """Return the plan from the cache when its key matches, else make it and cache it."""
    folder = cache_dir()
    if folder is None:
        return make_plan()
    key = plan_key()
    cached = _read_cached(_plan_file(folder, key), key)
    if cached is not None:
        return cached
    plan = make_plan()
    _write_cached(folder, key, plan)
    return plan


def _plan_file(folder: Path, key: str) -> Path:
    return folder / PLAN_FILE_PATTERN.replace("*", key[:24])


def _read_cached(path: Path, key: str) -> DagPlan | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("Ignoring the unreadable DAG plan cache %s: %s", path, error)
        return None
    if not isinstance(document, dict) or document.get("key") != key:
        return None
    try:
        return DagPlan.from_json(document["plan"])
    except (KeyError, TypeError, ValueError) as error:
        log.warning("Ignoring the malformed DAG plan cache %s: %s", path, error)
        return None


def _write_cached(folder: Path, key: str, plan: DagPlan) -> None:
    text = json.dumps({"key": key, "plan": plan.to_json()}, ensure_ascii=False)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".dag-plan-", suffix=".json", dir=folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, _plan_file(folder, key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _prune(folder)
    except OSError as error:
        log.warning("Could not write the DAG plan cache in %s: %s", folder, error)


def _prune(folder: Path) -> None:
    """Keep the newest plans only; an old one is made again if its files come back."""
    plans = sorted(folder.glob(PLAN_FILE_PATTERN), key=lambda path: path.stat().st_mtime, reverse=True)
    for stale in plans[PLANS_KEPT:]:
        stale.unlink(missing_ok=True)
