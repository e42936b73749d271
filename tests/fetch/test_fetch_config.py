"""EndpointConfig: defaults, validation, secret hiding and Airflow Connection parsing."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from integration_monitor.fetch import EndpointConfig

SECRET = "Sup3r-secret-value"


def connection(**overrides: Any) -> SimpleNamespace:
    values: dict[str, Any] = {
        "conn_id": "national_db_dan_cu",
        "host": "127.0.0.1",
        "port": 8701,
        "schema": "http",
        "login": "monitor",
        "password": SECRET,
        "extra_dejson": {},
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def test_defaults() -> None:
    config = EndpointConfig("https://ndxp.example.vn", "monitor", SECRET)

    assert (config.agency_code, config.api_version) == ("VPCP", "v1")
    assert (config.connect_timeout, config.read_timeout) == (5.0, 30.0)
    assert (config.max_attempts, config.backoff_seconds, config.max_backoff_seconds) == (3, 1.0, 30.0)
    assert config.max_response_bytes == 32 * 1024 * 1024
    assert (config.batch_size, config.page_size) == (500, 100)
    assert config.ca_url == "https://ndxp.example.vn/pki/ca.pem"
    assert config.tls_verify is True


def test_repr_hides_secret() -> None:
    config = EndpointConfig("https://ndxp.example.vn", "monitor", SECRET)

    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert "monitor" in repr(config)


def test_urls_keep_gateway_prefix() -> None:
    config = EndpointConfig("https://gw.example.vn/ndxp/", "monitor", SECRET, api_version="v2")

    assert config.token_url == "https://gw.example.vn/ndxp/oauth2/token"
    assert config.records_url("bao_hiem") == "https://gw.example.vn/ndxp/api/v2/bao_hiem/records"
    assert config.ca_url == "https://gw.example.vn/ndxp/pki/ca.pem"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"base_url": "ftp://x"}, "must start with http:// or https://"),
        ({"base_url": "https://user:pw@x"}, "must not contain credentials"),
        ({"base_url": "https://x/?a=1"}, "must not contain a query"),
        ({"client_secret": ""}, "client_secret is empty"),
        ({"page_size": 1001}, "page_size must be between 1 and 1000"),
        ({"page_size": 0}, "page_size must be between 1 and 1000"),
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"read_timeout": 0}, "read_timeout must be greater than 0"),
        ({"agency_code": "VPCP\r\nX-Evil: 1"}, "agency_code must be printable ASCII"),
        ({"api_version": "v1/../admin"}, "api_version"),
    ],
)
def test_invalid_settings(overrides: dict[str, Any], problem: str) -> None:
    values = {"base_url": "https://x", "client_id": "monitor", "client_secret": SECRET, **overrides}

    with pytest.raises(ValueError, match=re.escape(problem)):
        EndpointConfig(**values)


def test_from_connection_extras() -> None:
    extras = {
        "agency_code": "UBND-HN",
        "api_version": "v2",
        "batch_size": "250",
        "page_size": 50,
        "connect_timeout": "2.5",
        "read_timeout": 10,
        "max_attempts": "4",
        "max_response_bytes": 1048576,
        "ca_bundle_path": "/etc/monitor/ca.pem",
        "verify_tls": "false",
    }

    config = EndpointConfig.from_connection(connection(extra_dejson=extras))

    assert config.base_url == "http://127.0.0.1:8701"
    assert config.client_id == "monitor"
    assert config.client_secret == SECRET
    assert config.agency_code == "UBND-HN"
    assert config.api_version == "v2"
    assert (config.batch_size, config.page_size, config.max_attempts) == (250, 50, 4)
    assert (config.connect_timeout, config.read_timeout) == (2.5, 10.0)
    assert config.max_response_bytes == 1048576
    assert config.ca_bundle_path == "/etc/monitor/ca.pem"
    assert config.verify_tls is False
    assert config.tls_verify is False


def test_from_connection_host_with_scheme() -> None:
    config = EndpointConfig.from_connection(connection(host="https://gw.example.vn/ndxp", port=None, schema=None))

    assert config.base_url == "https://gw.example.vn/ndxp"


def test_from_connection_defaults_to_https() -> None:
    config = EndpointConfig.from_connection(connection(host="csdl.example.vn", port=None, schema=None))

    assert config.base_url == "https://csdl.example.vn"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"password": None}, "national_db_dan_cu: password"),
        ({"login": ""}, "national_db_dan_cu: login"),
        ({"host": None}, "national_db_dan_cu: host is missing"),
        ({"schema": "ftp"}, "national_db_dan_cu: schema must be http or https"),
        ({"extra_dejson": {"batch_size": "many"}}, "extra field batch_size must be int"),
        ({"extra_dejson": {"batch_size": True}}, "extra field batch_size must be int"),
        ({"extra_dejson": {"verify_tls": "maybe"}}, "extra field verify_tls must be bool"),
        ({"extra_dejson": {"page_size": 5000}}, "national_db_dan_cu: page_size must be between 1 and 1000"),
    ],
)
def test_from_connection_invalid(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        EndpointConfig.from_connection(connection(**overrides))


def test_from_connection_warns_unknown_extra(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="integration_monitor.fetch")

    EndpointConfig.from_connection(connection(extra_dejson={"batchsize": 10}))

    assert "ignoring unknown extra fields batchsize" in caplog.text


def test_import_does_not_load_airflow() -> None:
    code = "import sys, integration_monitor.fetch; print('airflow' in sys.modules)"

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)

    assert result.stdout.strip() == "False"


def test_from_real_airflow_connection() -> None:
    # A separate interpreter keeps Airflow's logging set-up out of this test process.
    code = """
import json
from airflow.models.connection import Connection
from integration_monitor.fetch import EndpointConfig
conn = Connection(
    conn_id="national_db_dan_cu", conn_type="http", host="127.0.0.1", port=8701, schema="http",
    login="monitor", password=%r, extra=json.dumps({"batch_size": "50", "ca_pem_url": "/pki/ca.pem"}),
)
config = EndpointConfig.from_connection(conn)
print(json.dumps({"base_url": config.base_url, "batch_size": config.batch_size, "repr": repr(config)}))
""" % SECRET

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-2000:]
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["base_url"] == "http://127.0.0.1:8701"
    assert output["batch_size"] == 50
    assert SECRET not in output["repr"]
