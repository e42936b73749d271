"""``integration-monitor expectations``: generate the GX suites and check them for drift."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from integration_monitor.catalog.errors import CatalogError
from integration_monitor.catalog.loader import load_catalog
from integration_monitor.i18n import LANGUAGES, Translate, translator
from integration_monitor.thresholds import ThresholdsError, load_thresholds
from integration_monitor.validation.suites import build_suites, default_expectations_dir, find_drift, write_suites

# Message ids of the drift problems that suites.find_drift reports.
_PROBLEMS = {
    "missing": "{path}: missing",
    "differs": "{path}: differs from the catalog and thresholds",
    "not in the catalog": "{path}: its database is not in the catalog",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("expectations", help="generate or check the Great Expectations suites")
    actions = parser.add_subparsers(dest="action", required=True)

    generate = actions.add_parser("generate", help="write expectations/<database>.json from the catalog and thresholds")
    _add_common_options(generate)
    generate.set_defaults(handler=run_generate)

    check = actions.add_parser("check", help="exit 1 when a suite file differs from what generate would write")
    _add_common_options(check)
    check.set_defaults(handler=run_check)


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=None, help="catalog folder (default: include/appendix_data)")
    parser.add_argument("--thresholds", default=None, help="thresholds file (default: include/thresholds.yaml)")
    parser.add_argument("--dir", default=None, help="folder of the suite files (default: expectations/)")
    parser.add_argument("--lang", choices=LANGUAGES, default=None, help="language of the report (default: vi)")


def run_generate(args: argparse.Namespace) -> int:
    _ = translator("cli", args.lang)
    suites = _build(args, _)
    if suites is None:
        return 2
    directory = Path(args.dir) if args.dir else default_expectations_dir()

    written, deleted = write_suites(suites, directory)
    for path in written:
        print(_("Wrote {path}", path=path))
    for path in deleted:
        print(_("Deleted {path}: its database is not in the catalog", path=path))
    print(_("{count} suites in {directory}, {changed} changed.",
            count=len(suites), directory=directory, changed=len(written) + len(deleted)))
    return 0


def run_check(args: argparse.Namespace) -> int:
    _ = translator("cli", args.lang)
    suites = _build(args, _)
    if suites is None:
        return 2
    directory = Path(args.dir) if args.dir else default_expectations_dir()

    drift = find_drift(suites, directory)
    if not drift:
        print(_("All {count} suites in {directory} match the catalog and thresholds.",
                count=len(suites), directory=directory))
        return 0
    for item in drift:
        print(_(_PROBLEMS[item.problem], path=item.path), file=sys.stderr)
    print(_("{count} suite files are out of date: run `integration-monitor expectations generate` and commit them.",
            count=len(drift)), file=sys.stderr)
    return 1


def _build(args: argparse.Namespace, _: Translate) -> dict | None:
    try:
        catalog = load_catalog(args.root)
        return build_suites(catalog, load_thresholds(args.thresholds))
    except CatalogError as error:
        print(_("error: invalid catalog: {error}", error=error), file=sys.stderr)
    except ThresholdsError as error:
        print(_("error: invalid thresholds: {error}", error=error), file=sys.stderr)
    return None
