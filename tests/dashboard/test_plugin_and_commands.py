"""The Airflow plugin file stays light, and the export and dashboard commands work end to end."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from integration_monitor.cli import main
from integration_monitor.store.engine import session_factory
from integration_monitor.store.models import DatabaseCheck

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def test_plugin_import_loads_no_dashboard_code():
    script = (
        "import json, sys\n"
        "import airflow.plugins_manager\n"
        "before = set(sys.modules)\n"
        f"sys.path.insert(0, {str(PLUGINS)!r})\n"
        "import integration_monitor_plugin as plugin\n"
        "added = sorted(set(sys.modules) - before)\n"
        "print(json.dumps({'added': added, 'prefix': plugin.IntegrationMonitorPlugin.fastapi_apps[0]['url_prefix']}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["added"] == ["integration_monitor_plugin"]
    assert result["prefix"] == "/integration-monitor"


def test_plugin_prefix_is_not_reserved():
    from airflow.api_fastapi.app import RESERVED_URL_PREFIXES

    sys.path.insert(0, str(PLUGINS))
    try:
        import integration_monitor_plugin as plugin
    finally:
        sys.path.remove(str(PLUGINS))
    prefix = plugin.IntegrationMonitorPlugin.fastapi_apps[0]["url_prefix"]
    assert not any(prefix.startswith(reserved) for reserved in RESERVED_URL_PREFIXES)
    assert plugin.IntegrationMonitorPlugin.external_views[0]["href"].startswith(prefix)


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('commands') / 'status.db'}"
    code = main(["dashboard", "history", "--store-url", url, "--days", "2", "--detail-days", "0.25",
                 "--end", "2025-07-01T00:00:00+07:00"])
    assert code == 0
    return url


def test_history_command_writes_two_days(filled_store):
    with session_factory(filled_store)() as session:
        checks = session.scalar(select(func.count()).select_from(DatabaseCheck))
        first = session.scalar(select(func.min(DatabaseCheck.checked_at)))
    assert checks == 16 * 2 * 24 * 12
    assert first == dt.datetime(2025, 6, 28, 17, 0, tzinfo=dt.UTC)


def test_history_command_rejects_bad_input(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'status.db'}"
    assert main(["dashboard", "history", "--store-url", url, "--end", "2025-07-01T00:00:00"]) == 2
    assert "needs a time zone" in capsys.readouterr().err
    assert main(["dashboard", "history", "--store-url", url, "--days", "0"]) == 2
    assert main(["dashboard", "history", "--store-url", url, "--end", "yesterday"]) == 2
    with pytest.raises(SystemExit):
        main(["dashboard", "history", "--days", "1"])


def test_refresh_command_sums_history(filled_store, capsys):
    assert main(["dashboard", "refresh", "--store-url", filled_store]) == 0
    assert "Summed 9,216 database checks and 14,400 service verdicts" in capsys.readouterr().out


def test_export_matrix_csv(filled_store, tmp_path):
    output = tmp_path / "matrix.csv"
    assert main(["export", "--format", "csv", "--store-url", filled_store, "--output", str(output), "--lang", "en"]) == 0
    rows = list(csv.reader(io.StringIO(output.read_text(encoding="utf-8-sig"))))
    assert rows[0][:4] == ["Service number", "Service", "End-to-end per appendix", "End-to-end now"]
    assert len(rows) == 26
    assert [row[0] for row in rows[1:]] == [str(number) for number in range(1, 26)]


def test_export_history_xlsx_and_csv(filled_store, tmp_path):
    from openpyxl import load_workbook

    workbook_path = tmp_path / "history.xlsx"
    assert main(["export", "--from", "2025-06-29", "--to", "2025-06-30", "--store-url", filled_store,
                 "--output", str(workbook_path)]) == 0
    workbook = load_workbook(workbook_path)
    assert workbook.sheetnames == ["Info", "Cơ sở dữ liệu quốc gia", "Dịch vụ công"]
    databases = workbook["Cơ sở dữ liệu quốc gia"]
    assert databases.max_row == 1 + 16 * 2
    assert sum(row[3].value for row in databases.iter_rows(min_row=2)) == 16 * 2 * 24 * 12

    csv_path = tmp_path / "services.csv"
    assert main(["export", "--from", "2025-06-30", "--to", "2025-06-30", "--granularity", "hour", "--format", "csv",
                 "--subject", "services", "--store-url", filled_store, "--output", str(csv_path)]) == 0
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert rows[0][4] == "Tỷ lệ thời gian toàn trình (%)"
    assert len(rows) == 1 + 25 * 24
    assert all(0.0 <= float(row[4]) <= 100.0 for row in rows[1:])


def test_export_rejects_bad_period(filled_store, capsys):
    assert main(["export", "--from", "2025-07-01", "--to", "2025-06-01", "--store-url", filled_store]) == 2
    assert "after its end" in capsys.readouterr().err
    assert main(["export", "--from", "30/6/2025", "--store-url", filled_store]) == 2
    assert "expected YYYY-MM-DD" in capsys.readouterr().err
    assert main(["export", "--from", "2025-01-01", "--to", "2025-06-30", "--granularity", "hour",
                 "--store-url", filled_store]) == 2
