"""Shared helpers of the benchmark scripts: timing, targets and the result file.

Every benchmark compares two measurements taken in the same run, because the machine is
shared and absolute times move with its load. A script prints its figures and, with
``--result FILE``, writes them as JSON for ``run_all.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Target:
    """One ratio and the bound it must stay under (or at)."""

    name: str
    ratio: float | None
    limit: float
    strict: bool = False  # True: the ratio must stay below the limit; False: at most the limit
    note: str = ""

    @property
    def passed(self) -> bool:
        if self.ratio is None:
            return False
        return self.ratio < self.limit if self.strict else self.ratio <= self.limit

    def describe(self) -> str:
        bound = "<" if self.strict else "≤"
        ratio = "n/a" if self.ratio is None else f"{self.ratio:.2f}×"
        verdict = "PASS" if self.passed else "FAIL"
        text = f"{self.name}: {ratio} (target {bound} {self.limit:g}×) {verdict}"
        return f"{text} — {self.note}" if self.note else text


@dataclass
class Result:
    """Figures and targets of one benchmark script."""

    benchmark: str
    figures: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def figure(self, name: str, value: Any) -> Any:
        self.figures[name] = value
        return value

    def target(self, name: str, ratio: float | None, limit: float, *, strict: bool = False, note: str = "") -> Target:
        item = Target(name, ratio, limit, strict, note)
        self.targets.append(item)
        return item

    def print(self) -> None:
        print(f"\n== {self.benchmark} ==")
        for name, value in self.figures.items():
            print(f"  {name}: {_format(value)}")
        for note in self.notes:
            print(f"  note: {note}")
        for item in self.targets:
            print(f"  {item.describe()}")

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for item, target in zip(data["targets"], self.targets, strict=True):
            item["passed"] = target.passed
        return data


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and value and all(isinstance(item, float) for item in value):
        return "[" + ", ".join(f"{item:.4g}" for item in value) + "]"
    return str(value)


def machine() -> dict[str, Any]:
    """Return what the figures depend on: CPUs, memory, load, versions and the date."""
    memory_kib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(memory_kib / 1024**2, 1) if memory_kib else None,
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _cpu_model() -> str | None:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return None
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return None


def median_time(action: Callable[[], Any], repeat: int) -> tuple[float, list[float]]:
    """Run ``action`` ``repeat`` times; return the median wall time and every time, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """Yield a function that returns the seconds since the block started."""
    started = time.perf_counter()
    yield lambda: time.perf_counter() - started


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def argument_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--result", type=Path, default=None, help="write the figures as JSON to this file")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and smaller inputs, for a smoke run")
    return parser


def finish(result: Result, path: Path | None) -> int:
    """Print the result, write it to ``path`` when given, and return the exit status (0)."""
    result.print()
    if path is not None:
        path.write_text(json.dumps(result.as_dict(), indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    sys.stdout.flush()
    return 0


def project_python() -> str:
    """Return the interpreter of the project's virtual environment, else the running one."""
    candidate = PROJECT_ROOT / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable
