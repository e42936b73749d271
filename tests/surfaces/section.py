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
        notes=(
            "Airflow 3.3.2's in-process supervisor, which `dag.test()` and `airflow tasks test` use, logs each "
            "`MaskSecret` request at DEBUG level before it registers the mask, so the connection password appears "
            "in that one line. The supervisor of the scheduler's executors logs no body for `MaskSecret`. At INFO "
            "level, the default, no secret appears.",
            "Stub admin calls from a non-loopback client, and the admin API without a configured token, are covered "
            "in `tests/stubs/test_stub_admin.py`; fixed lists of dashboard paths in `tests/dashboard/test_api_auth.py`.",
        ),
    )
