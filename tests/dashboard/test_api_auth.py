"""The dashboard inside a real Airflow API server: every route needs an authenticated user."""

from __future__ import annotations

import datetime as dt
import io
import urllib.parse

import jwt
import pytest
import requests

pytestmark = pytest.mark.airflow

PAGES = [
    "/",
    "/services/1",
    "/databases/kham_chua_benh",
    "/databases/dan_cu?window=24h",
    "/tasks",
    "/incidents",
    "/exports",
    "/api-docs",
    "/static/dashboard.css",
    "/static/icon.svg",
    "/export/matrix.csv",
    "/export/matrix.xlsx",
    "/export/history.csv",
    "/export/history.xlsx?granularity=hour",
]
API = [
    "/api/matrix",
    "/api/services/1",
    "/api/services/1/hours",
    "/api/databases/dan_cu",
    "/api/databases/dan_cu/hours",
    "/api/tasks",
    "/api/incidents",
    "/api/openapi.json",
]


def get(server, path: str, **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.get(server.dashboard_url + path, allow_redirects=False, timeout=60, **kwargs)


@pytest.fixture(scope="module")
def token(airflow_server) -> str:  # type: ignore[no-untyped-def]
    return airflow_server.token()


@pytest.mark.parametrize("path", API)
def test_api_without_token_is_401(airflow_server, path):
    response = get(airflow_server, path)
    assert response.status_code == 401
    assert response.json()["detail"] == "Not authenticated"


@pytest.mark.parametrize("path", PAGES)
def test_page_without_token_redirects_to_login(airflow_server, path):
    response = get(airflow_server, path)
    assert response.status_code == 303
    location = urllib.parse.urlsplit(response.headers["location"])
    assert location.path == "/auth/login"
    next_url = urllib.parse.parse_qs(location.query)["next"][0]
    assert next_url == "/integration-monitor" + path


@pytest.mark.parametrize("path", ["/api/matrix", "/api/tasks"])
def test_api_with_forged_token_is_403(airflow_server, path):
    forged = jwt.encode({"sub": "operator", "role": "admin", "aud": "apache-airflow"}, "not-the-secret" * 5,
                        algorithm="HS512")
    response = get(airflow_server, path, headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 403


def test_page_with_forged_cookie_redirects(airflow_server):
    response = get(airflow_server, "/", cookies={"_token": "garbage"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/login")


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_fastapi_default_docs_are_not_served(airflow_server, token, path):
    assert get(airflow_server, path).status_code == 404
    assert get(airflow_server, path, headers={"Authorization": f"Bearer {token}"}).status_code == 404


@pytest.mark.parametrize("path", API)
def test_api_with_bearer_token_is_200(airflow_server, token, path):
    response = get(airflow_server, path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("path", PAGES)
def test_page_with_session_cookie_is_200(airflow_server, token, path):
    response = get(airflow_server, path, cookies={"_token": token})
    assert response.status_code == 200, response.text[:500]


def test_unknown_service_and_database_are_404(airflow_server, token):
    headers = {"Authorization": f"Bearer {token}"}
    assert get(airflow_server, "/api/services/26", headers=headers).status_code == 404
    assert get(airflow_server, "/api/databases/no_such_db", headers=headers).status_code == 404
    assert get(airflow_server, "/services/0", cookies={"_token": token}).status_code == 404
    assert get(airflow_server, "/services/abc", cookies={"_token": token}).status_code == 422


def test_bad_api_parameters_are_422(airflow_server, token):
    headers = {"Authorization": f"Bearer {token}"}
    assert get(airflow_server, "/api/matrix?lang=fr", headers=headers).status_code == 422
    assert get(airflow_server, "/api/databases/dan_cu?window=1y", headers=headers).status_code == 422
    naive = get(airflow_server, "/api/databases/dan_cu/hours?from=2025-01-01T00:00:00", headers=headers)
    assert naive.status_code == 422
    assert "time zone" in naive.json()["detail"]
    reversed_period = get(airflow_server, "/api/databases/dan_cu/hours?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z",
                          headers=headers)
    assert reversed_period.status_code == 422
    too_long = get(airflow_server, "/api/services/1/hours?from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:00Z",
                   headers=headers)
    assert too_long.status_code == 422


def test_bad_export_period_is_422(airflow_server, token):
    cookies = {"_token": token}
    assert get(airflow_server, "/export/history.csv?from=2025-13-01", cookies=cookies).status_code == 422
    assert get(airflow_server, "/export/history.csv?from=2025-06-30&to=2025-06-01", cookies=cookies).status_code == 422
    too_long = get(airflow_server, "/export/history.xlsx?from=2024-01-01&to=2025-01-01&granularity=hour",
                   cookies=cookies)
    assert too_long.status_code == 422
    assert get(airflow_server, "/export/history.pdf", cookies=cookies).status_code == 422


def test_plugin_registers_app_and_navigation_entry(airflow_server, token):
    response = requests.get(f"{airflow_server.base_url}/api/v2/plugins", headers={"Authorization": f"Bearer {token}"},
                            timeout=30)
    plugins = {item["name"]: item for item in response.json()["plugins"]}
    plugin = plugins["integration_monitor"]
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/integration-monitor"
    view = plugin["external_views"][0]
    assert view["href"] == "/integration-monitor/"
    assert view["url_route"] == "integration-monitor"
    assert view["destination"] == "nav"
    assert response.status_code == 200


def test_matrix_api_matches_store(airflow_server, token, catalog):
    from integration_monitor.report import CELL_MARKS, load_snapshot

    response = get(airflow_server, "/api/matrix?lang=en", headers={"Authorization": f"Bearer {token}"})
    matrix = response.json()
    snapshot = load_snapshot(catalog, airflow_server.store_url)

    assert matrix["language"] == "en"
    assert matrix["service_count"] == 25
    assert matrix["ready_count"] == sum(1 for item in snapshot.services.values() if item.ready)
    for service in matrix["services"]:
        expected = snapshot.services[service["number"]]
        assert service["ready"] == expected.ready, service["number"]
        assert [cell["database_code"] for cell in service["cells"]] == catalog.service(service["number"]).database_codes()
        for cell in service["cells"]:
            database = snapshot.databases[cell["database_code"]]
            if database.status in ("BROKEN", "NO_DATA"):
                assert cell["mark"] == CELL_MARKS[database.status]
    for database in matrix["databases"]:
        assert database["status"] == snapshot.databases[database["code"]].status


def test_history_hours_api_sums_raw_checks(airflow_server, token):
    from sqlalchemy import func, select

    from integration_monitor.store.engine import session_factory
    from integration_monitor.store.models import DatabaseCheck

    factory = session_factory(airflow_server.store_url)
    with factory() as session:
        last = session.scalar(select(func.max(DatabaseCheck.checked_at)).where(DatabaseCheck.database_code == "dan_cu"))
    end = last.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    start = end - dt.timedelta(hours=12)
    query = urllib.parse.urlencode({"from": start.isoformat(), "to": end.isoformat()})
    response = get(airflow_server, f"/api/databases/dan_cu/hours?{query}", headers={"Authorization": f"Bearer {token}"})
    points = response.json()
    with factory() as session:
        raw = session.scalar(select(func.count()).where(
            DatabaseCheck.database_code == "dan_cu", DatabaseCheck.checked_at >= start, DatabaseCheck.checked_at < end))
    assert sum(point["checks"] for point in points) == raw
    assert len(points) == 12


def test_exports_are_valid_files(airflow_server, token):
    from openpyxl import load_workbook

    cookies = {"_token": token}
    matrix_csv = get(airflow_server, "/export/matrix.csv?lang=vi", cookies=cookies)
    assert matrix_csv.headers["content-disposition"].startswith('attachment; filename="status-matrix-')
    text = matrix_csv.content.decode("utf-8")
    assert text.startswith("\ufeffSố thứ tự dịch vụ,Dịch vụ,")
    assert len(text.strip().splitlines()) == 26

    workbook = load_workbook(io.BytesIO(get(airflow_server, "/export/history.xlsx?lang=en", cookies=cookies).content))
    assert workbook.sheetnames == ["Info", "National databases", "Public services"]
    databases = workbook["National databases"]
    assert databases["A1"].value == "Database code"
    assert databases.max_row > 16
    assert databases["E2"].number_format == "0.0%"
