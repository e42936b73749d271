"""Plain-data views of the catalog for JSON output and reports."""

from __future__ import annotations

from typing import Any

from integration_monitor.catalog.models import Catalog


def catalog_as_dict(catalog: Catalog) -> dict[str, Any]:
    """Return the whole catalog as JSON-ready data, services and databases first."""
    owners = {owner.code: owner for owner in catalog.owners}
    return {
        "services": [
            {
                "number": service.number,
                "name": service.name,
                "name_en": service.name_en,
                "managing_body": owners[service.managing_body].name,
                "managing_body_code": service.managing_body,
                "end_to_end_per_appendix": service.end_to_end_per_appendix,
                "data_owners": list(service.data_owners),
                "databases": [
                    {
                        "database": entry.database,
                        "field_count_in_appendix": entry.field_count_in_appendix,
                        "field_count_given": entry.field_count_in_appendix is not None,
                        "wording_in_appendix": entry.wording_in_appendix,
                        "required_fields": list(entry.required_fields),
                    }
                    for entry in service.databases
                ],
                "tasks": [task.model_dump(mode="json") for task in service.tasks],
            }
            for service in catalog.services
        ],
        "databases": [
            {
                "code": database.code,
                "name": database.name,
                "name_en": database.name_en,
                "owner": database.owner,
                "owner_name": owners[database.owner].name,
                "aliases": list(database.aliases),
                "record_kind": database.record_kind,
                "signed": database.signed,
                "fields": [spec.model_dump(mode="json") for spec in database.fields],
            }
            for database in catalog.databases
        ],
        "owners": [owner.model_dump(mode="json") for owner in catalog.owners],
    }
