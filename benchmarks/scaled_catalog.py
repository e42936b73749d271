"""Write a copy of the project whose catalog has every national database N times.

Each database of ``include/appendix_data`` gets N - 1 copies under new codes
(``dan_cu_x2`` … ``dan_cu_xN``) with the same fields, and every service reads the copies as
well as the original, with the same required fields. The copy also carries the thresholds,
the monitoring settings, the scenarios and a Great Expectations suite per database, so the
DAG factory, the stub server and the tasks work on it when ``INTEGRATION_MONITOR_HOME``
points at the copy's root (and ``INTEGRATION_MONITOR_CATALOG`` at its catalog folder).

NOTE: the stub server signs records with XML-DSig only for the code ``kham_chua_benh``, so
the copies of that database carry cheaper JSON signatures than the original.

Run: ``python benchmarks/scaled_catalog.py TARGET_DIR [--factor 4]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from common import PROJECT_ROOT, project_python

CATALOG = Path("include") / "appendix_data"


def copy_code(code: str, index: int) -> str:
    return code if index == 1 else f"{code}_x{index}"


def write_scaled_project(target: Path, factor: int) -> Path:
    """Write the scaled project under ``target`` and return the root to use as INTEGRATION_MONITOR_HOME."""
    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    source = PROJECT_ROOT / CATALOG
    catalog = target / CATALOG
    if target.exists():
        shutil.rmtree(target)
    (catalog / "fields").mkdir(parents=True)
    shutil.copytree(PROJECT_ROOT / "dags", target / "dags")
    shutil.copytree(PROJECT_ROOT / "include" / "scenarios", target / "include" / "scenarios")
    for name in ("monitoring.yaml", "alerting.yaml"):
        if (PROJECT_ROOT / "include" / name).is_file():
            shutil.copy(PROJECT_ROOT / "include" / name, target / "include" / name)
    shutil.copy(source / "owners.yaml", catalog / "owners.yaml")

    databases = _load(source / "databases.yaml")
    copies = []
    for entry in databases["databases"]:
        fields = _load(source / "fields" / f"{entry['code']}.yaml")
        for index in range(1, factor + 1):
            code = copy_code(entry["code"], index)
            suffix = "" if index == 1 else f" (bản sao {index})"
            copies.append({**entry, "code": code, "name": entry["name"] + suffix,
                           "name_en": entry["name_en"] + ("" if index == 1 else f" (copy {index})"),
                           "aliases": [alias + suffix for alias in entry.get("aliases") or []]})
            _dump(catalog / "fields" / f"{code}.yaml", {**fields, "database": code})
    _dump(catalog / "databases.yaml", {"databases": copies})

    services = _load(source / "services.yaml")
    for service in services["services"]:
        service["databases"] = [
            {**item, "database": copy_code(item["database"], index)}
            for item in service["databases"] for index in range(1, factor + 1)
        ]
    _dump(catalog / "services.yaml", services)

    required = _load(source / "service_fields.yaml")
    required["required_fields"] = {
        number: {copy_code(code, index): fields for code, fields in by_database.items() for index in range(1, factor + 1)}
        for number, by_database in required["required_fields"].items()
    }
    _dump(catalog / "service_fields.yaml", required)

    thresholds = _load(PROJECT_ROOT / "include" / "thresholds.yaml")
    thresholds["databases"] = {
        copy_code(code, index): settings
        for code, settings in (thresholds.get("databases") or {}).items() for index in range(1, factor + 1)
    }
    _dump(target / "include" / "thresholds.yaml", thresholds)

    _generate_suites(target)
    return target


def _generate_suites(root: Path) -> None:
    command = [project_python(), "-m", "integration_monitor.cli", "expectations", "generate",
               "--root", str(root / CATALOG), "--thresholds", str(root / "include" / "thresholds.yaml"),
               "--dir", str(root / "expectations"), "--lang", "en"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=root)


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dump(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def scaled_environment(root: Path) -> dict[str, str]:
    """Return the environment variables that point the monitor at a scaled copy."""
    return {
        "INTEGRATION_MONITOR_HOME": str(root),
        "INTEGRATION_MONITOR_CATALOG": str(root / CATALOG),
        "INTEGRATION_MONITOR_THRESHOLDS": str(root / "include" / "thresholds.yaml"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path, help="folder to write (replaced if it exists)")
    parser.add_argument("--factor", type=int, default=4, help="copies of each database (default: %(default)s)")
    args = parser.parse_args()
    root = write_scaled_project(args.target, args.factor)
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
