"""The surfaces section of ``docs/faults.md``: one row per check, written as each test ends."""

from __future__ import annotations

from tests.faults import render_table

ORDER = ("stub", "up", "dashboard", "secrets", "debug", "admin", "signatures")


def record(key: str, tried: str, result: str) -> None:
    """Store one row of the section and regenerate the document."""
    render_table.write_row(
        "surfaces", key, [tried, result], order=ORDER,
        title="Surfaces (tests/surfaces/)",
        intro=("Servers, the dashboard, secrets in logs, the stub's admin API and signature trust, tried from "
               "outside the way an attacker or a careless operator would."),
        columns=["what was tried", "what it gave"],
    )
