"""The ``integration-monitor stubs`` commands, against the shared server and as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from integration_monitor.catalog.models import Catalog
from integration_monitor.cli import build_parser, main
from integration_monitor.stubs.commands import scenario_entry_from_args
from tests.stubs.conftest import ADMIN_TOKEN, StubClient
from tests.stubs.test_stub_admin import port_refused

REPO = Path(__file__).resolve().parents[2]


def target(stub: StubClient) -> list[str]:
    return ["--port", str(urlsplit(stub.base_url).port)]


def test_set_options_become_entry() -> None:
    args = build_parser().parse_args(
        [
            "stubs", "scenario", "set", "dat_dai", "--fault", "schema_drift", "--flapping",
            "--rename", "A=B", "--drop", "C", "--delay-seconds", "2", "--retry-after", "9",
            "--duplicate-share", "0.2", "--size-mb", "3", "--signature", "missing", "--signature-share", "0.4",
            "--deny-service", "20", "--deny-service", "21", "--blank", "X,Y:0.3:null", "--blank", "Z:0.1",
        ]
    )  # fmt: skip
    assert scenario_entry_from_args(args) == {
        "fault": "schema_drift",
        "flapping": True,
        "deny_services": [20, 21],
        "signature": {"mode": "missing", "share": 0.4},
        "completeness": [
            {"fields": ["X", "Y"], "missing_share": 0.3, "style": "null"},
            {"fields": ["Z"], "missing_share": 0.1},
        ],
        "fault_options": {
            "delay_seconds": 2.0,
            "retry_after": 9,
            "duplicate_share": 0.2,
            "size_mb": 3.0,
            "rename": {"A": "B"},
            "drop": ["C"],
        },
    }


@pytest.mark.parametrize("option", [["--blank", "X"], ["--blank", "X:lots"], ["--rename", "A"]])
def test_bad_set_options_exit_2(option: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUB_ADMIN_TOKEN", ADMIN_TOKEN)
    assert main(["stubs", "scenario", "set", "dat_dai", *option, "--port", "1"]) == 2
    assert "is invalid" in capsys.readouterr().err


def test_cli_changes_running_server(
    stub: StubClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STUB_ADMIN_TOKEN", ADMIN_TOKEN)
    assert main(["stubs", "scenario", "set", "dat_dai", "--fault", "refused", "--lang", "en", *target(stub)]) == 0
    assert "dat_dai" in capsys.readouterr().out
    assert port_refused(stub.port_url("dat_dai"))

    assert main(["stubs", "scenario", "show", "dat_dai", *target(stub)]) == 0
    assert json.loads(capsys.readouterr().out) == {"dat_dai": {"fault": "refused"}}

    assert main(["stubs", "scenario", "reset", *target(stub)]) == 0
    capsys.readouterr()
    assert not port_refused(stub.port_url("dat_dai"))

    assert main(["stubs", "ports", *target(stub)]) == 0
    assert json.loads(capsys.readouterr().out) == stub.server.port_map()


def test_cli_loads_file(stub: StubClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUB_ADMIN_TOKEN", ADMIN_TOKEN)
    path = tmp_path / "local.yaml"
    path.write_text("name: local\ndatabases:\n  dan_cu:\n    fault: http_502\n", encoding="utf-8")
    assert main(["stubs", "scenario", "load", str(path), *target(stub)]) == 0
    assert stub.records("dan_cu").status_code == 502
    assert main(["stubs", "scenario", "load", "test-mixed", *target(stub)]) == 0
    assert stub.records("dan_cu").status_code == 200


def test_cli_reports_server_errors(
    stub: StubClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STUB_ADMIN_TOKEN", ADMIN_TOKEN)
    assert main(["stubs", "scenario", "set", "dat_dai", "--blank", "NOPE:0.5", *target(stub)]) == 1
    assert "NOPE is not a field of dat_dai" in capsys.readouterr().err

    monkeypatch.setenv("STUB_ADMIN_TOKEN", "wrong")
    assert main(["stubs", "scenario", "reset", *target(stub)]) == 1
    assert "HTTP 403" in capsys.readouterr().err

    monkeypatch.delenv("STUB_ADMIN_TOKEN")
    assert main(["stubs", "scenario", "reset", *target(stub)]) == 1
    assert "STUB_ADMIN_TOKEN is not set" in capsys.readouterr().err


def test_cli_without_server(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STUB_ADMIN_TOKEN", ADMIN_TOKEN)
    assert main(["stubs", "scenario", "show", "--port", "1"]) == 1
    assert "cannot reach the stub server" in capsys.readouterr().err


def serve_environment(**extra: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("STUB_")}
    environment.update(extra)
    return environment


def test_serve_needs_client_secret(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "integration_monitor.cli", "stubs", "serve", "--port", "0"],
        env=serve_environment(), capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "STUB_CLIENT_SECRET is not set" in result.stderr


def test_serve_process_prints_ports_and_stops(tmp_path: Path, catalog: Catalog) -> None:
    scenario = tmp_path / "refuse-land.yaml"
    scenario.write_text("name: refuse-land\ndatabases:\n  dat_dai:\n    fault: refused\n", encoding="utf-8")
    command = [
        sys.executable, "-m", "integration_monitor.cli", "stubs", "serve", "--port", "0", "--total", "20",
        "--scenario", str(scenario), "--pki-dir", str(tmp_path / "pki"),
    ]  # fmt: skip
    environment = serve_environment(STUB_CLIENT_SECRET="process-secret", STUB_ADMIN_TOKEN="process-admin")
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ports = read_port_map(process, len(catalog.databases) + 1)
        session = requests.Session()
        session.trust_env = False
        assert session.get(f"{ports['main']}/healthz", timeout=5).json() == {"status": "ok"}
        assert port_refused(ports["dat_dai"])
        token = session.post(
            f"{ports['dan_cu']}/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": "monitor", "client_secret": "process-secret"},
            timeout=5,
        )
        assert token.status_code == 200
        assert (tmp_path / "pki" / "ca.pem").read_bytes() == session.get(f"{ports['main']}/pki/ca.pem", timeout=5).content
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    assert "Stub server listening on" in errors
    assert "Scenario refuse-land in force: 1 databases not healthy" in errors


def read_port_map(process: subprocess.Popen[str], count: int) -> dict[str, str]:
    assert process.stdout is not None
    ports: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(ports) < count:
        line = process.stdout.readline()
        if not line:
            break
        name, _, url = line.strip().partition(": ")
        ports[name] = url
    assert "main" in ports, process.stderr.read() if process.stderr else ""
    return ports
