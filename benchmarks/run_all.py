"""Run every benchmark and print each ratio against its target: ``make bench``.

Each benchmark runs in its own process, one after the other, so that none of them slows
another down. Their figures go to ``var/benchmarks/<UTC time>/<name>.json`` and their logs
(Airflow's, the stub server's) to ``<name>.log`` beside them; the summary at the end lists
every target with its ratio, PASS or FAIL, and what dominates or holds it back.

Run: ``.venv/bin/python benchmarks/run_all.py [--only parse,sweep] [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import PROJECT_ROOT, machine, project_python

BENCHMARKS = ("parse", "validation", "sweep", "detection", "history", "stub")


def run(name: str, out_dir: Path, quick: bool) -> dict | None:
    script = Path(__file__).with_name(f"bench_{name}.py")
    result_path = out_dir / f"{name}.json"
    log_path = out_dir / f"{name}.log"
    command = [project_python(), str(script), "--result", str(result_path)] + (["--quick"] if quick else [])
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
           "GX_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    print(f"\n>>> {name} (log: {log_path})", flush=True)
    started = time.perf_counter()
    with log_path.open("wb") as log:
        completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, env=env, cwd=PROJECT_ROOT,
                                   check=False)
    output = completed.stdout.decode("utf-8", "replace")
    printed = output[output.find("\n== "):] if "\n== " in output else output
    print(printed.strip(), flush=True)
    print(f"<<< {name}: {time.perf_counter() - started:.0f} s, exit {completed.returncode}", flush=True)
    if completed.returncode != 0 or not result_path.is_file():
        return None
    return json.loads(result_path.read_text(encoding="utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--quick", action="store_true", help="smaller inputs and fewer repetitions: a smoke run")
    args = parser.parse_args()
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(selected) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; expected some of {', '.join(BENCHMARKS)}")

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = PROJECT_ROOT / "var" / "benchmarks" / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    about = machine()
    print("Machine: " + ", ".join(f"{key} {value}" for key, value in about.items()), flush=True)

    started = time.perf_counter()
    results = {name: run(name, out_dir, args.quick) for name in selected}
    total = time.perf_counter() - started

    print(f"\n==== summary ({total / 60:.1f} min; figures in {out_dir}) ====")
    failed = 0
    for name, result in results.items():
        if result is None:
            print(f"{name}: did not finish; see {out_dir / (name + '.log')}")
            failed += 1
            continue
        for target in result["targets"]:
            bound = "<" if target["strict"] else "≤"
            measured = "n/a" if target["ratio"] is None else f"{target['ratio']:.2f}×"
            verdict = "PASS" if target["passed"] else "FAIL"
            note = f" — {target['note']}" if target["note"] else ""
            print(f"[{verdict}] {name}: {target['name']}: {measured} (target {bound} {target['limit']:g}×){note}")
            failed += 0 if target["passed"] else 1
    (out_dir / "summary.json").write_text(
        json.dumps({"machine": about, "seconds": round(total, 1), "results": results}, indent=2, ensure_ascii=False),
        encoding="utf-8")
    print(f"{failed} targets missed or not measured" if failed else "every target met")
    # A missed target is a finding to report, not an error; a benchmark that crashed is.
    return 1 if any(result is None for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
