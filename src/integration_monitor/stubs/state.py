"""The scenario in force for each database, changed at run time through the admin API."""

from __future__ import annotations

from typing import Any

from integration_monitor.catalog.models import Catalog
from integration_monitor.stubs.scenario import (
    HEALTHY,
    DatabaseScenario,
    Fault,
    Scenario,
    check_against_catalog,
    check_entry_against_catalog,
)

HEALTHY_SCENARIO_NAME = "healthy"


class ScenarioState:
    """Per-database scenario entries and the request counters that flapping alternates on.

    Only the event loop thread reads and changes it, so it needs no lock.
    """

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self.name = HEALTHY_SCENARIO_NAME
        self.description = ""
        self.modified = False
        self._entries: dict[str, DatabaseScenario] = {}
        self._requests: dict[str, int] = {}

    def entry(self, database_code: str) -> DatabaseScenario:
        return self._entries.get(database_code, HEALTHY)

    def load(self, scenario: Scenario) -> None:
        """Replace every entry by the scenario's; raise ``ScenarioError`` if the catalog disagrees."""
        check_against_catalog(scenario, self._catalog)
        self.name = scenario.name
        self.description = scenario.description
        self.modified = False
        self._entries = {code: entry for code, entry in scenario.databases.items() if entry != HEALTHY}
        self._requests.clear()

    def set_entry(self, database_code: str, entry: DatabaseScenario) -> None:
        check_entry_against_catalog(database_code, entry, self._catalog)
        if entry == HEALTHY:
            self._entries.pop(database_code, None)
        else:
            self._entries[database_code] = entry
        self._requests.pop(database_code, None)
        self.modified = True

    def reset(self) -> None:
        self.name = HEALTHY_SCENARIO_NAME
        self.description = ""
        self.modified = False
        self._entries.clear()
        self._requests.clear()

    def fault_applies(self, database_code: str) -> bool:
        """Count one request to the database and return whether its fault applies to it.

        Without flapping the fault applies to every request. With flapping it applies to the
        1st, 3rd, 5th ... request since the entry was set, and the others are healthy.
        """
        entry = self.entry(database_code)
        if entry.fault == Fault.NONE and not entry.flapping:
            return False
        count = self._requests.get(database_code, 0) + 1
        self._requests[database_code] = count
        return not entry.flapping or count % 2 == 1

    def snapshot(self) -> dict[str, Any]:
        """Return the scenario in force as JSON: every catalog database, ``{}`` when healthy."""
        databases = {
            database.code: self.entry(database.code).model_dump(mode="json", exclude_defaults=True)
            for database in self._catalog.databases
        }
        return {"name": self.name, "description": self.description, "modified": self.modified, "databases": databases}
