"""``integration-monitor catalog``: print the appendix catalog."""

from __future__ import annotations

import argparse
import json
import sys

from integration_monitor.catalog.errors import CatalogError
from integration_monitor.catalog.export import catalog_as_dict
from integration_monitor.catalog.loader import load_catalog
from integration_monitor.catalog.models import Catalog
from integration_monitor.i18n import LANGUAGES, translator


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("catalog", help="print the appendix catalog (services, databases, tasks)")
    parser.add_argument("--json", action="store_true", help="print the whole catalog as JSON")
    parser.add_argument("--lang", choices=LANGUAGES, default=None, help="language of the summary (default: vi)")
    parser.add_argument("--root", default=None, help="catalog folder (default: include/appendix_data)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        catalog = load_catalog(args.root)
    except CatalogError as error:
        print(f"error: invalid catalog: {error}", file=sys.stderr)
        return 2

    if args.json:
        json.dump(catalog_as_dict(catalog), sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(format_summary(catalog, args.lang))
    return 0


def format_summary(catalog: Catalog, language: str | None = None) -> str:
    """Return a readable summary: one block per service, then the databases and their owners."""
    _ = translator("cli", language)
    owners = {owner.code: owner for owner in catalog.owners}
    databases = {database.code: database for database in catalog.databases}
    english = _("Service") == "Service"
    not_ready = [service for service in catalog.services if not service.end_to_end_per_appendix]
    lines = [
        _("Appendix catalog: {services} services, {databases} national databases, {tasks} tasks.",
          services=len(catalog.services), databases=len(catalog.databases),
          tasks=sum(len(service.tasks) for service in catalog.services)),
        _("Marked not end-to-end by the appendix: {numbers}.",
          numbers=", ".join(str(service.number) for service in not_ready)),
        "",
    ]

    for service in catalog.services:
        marker = _("end-to-end") if service.end_to_end_per_appendix else _("NOT end-to-end")
        name = service.name_en if english else service.name
        lines.append(f"{service.number:>2}. {name} [{marker}] — {owners[service.managing_body].name}")
        for entry in service.databases:
            database = databases[entry.database]
            count = (
                _("{count} fields", count=entry.field_count_in_appendix)
                if entry.field_count_in_appendix is not None
                else _("count not given, {count} fields chosen", count=len(entry.required_fields))
            )
            lines.append(f"      - {database.code}: {count}")
        for task in service.tasks:
            deadline = task.deadline.strftime("%d/%m/%Y") if task.deadline else _("no deadline")
            bodies = ", ".join(owners[code].name for code in task.responsible)
            lines.append("      * " + _("task for {bodies}, deadline {deadline}", bodies=bodies, deadline=deadline))

    lines.append("")
    lines.append(_("National databases:"))
    for database in catalog.databases:
        name = database.name_en if english else database.name
        personal = sum(1 for spec in database.fields if spec.personal)
        lines.append(
            f"  {database.code:<22} {name} — {owners[database.owner].name} "
            + _("({fields} fields, {personal} personal)", fields=len(database.fields), personal=personal)
        )
    return "\n".join(lines)
