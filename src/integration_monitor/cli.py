"""Command-line entry point ``integration-monitor``.

Each feature area registers its own sub-commands from a ``register(subparsers)`` function,
so this module stays small and imports nothing heavy.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that contribute sub-commands, imported only when the CLI starts.
COMMAND_MODULES = (
    "integration_monitor.catalog.commands",
    "integration_monitor.stubs.commands",
    "integration_monitor.validation.commands",
    "integration_monitor.store.commands",
    "integration_monitor.local.commands",
    "integration_monitor.alerts.commands",
    "integration_monitor.dashboard.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="integration-monitor",
        description="Monitor national-database integration for online public services.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result = args.handler(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
