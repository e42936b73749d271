"""A full sweep under the appendix-2025 scenario finds exactly the services the appendix marks
not end to end, for the reasons it gives, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pipeline.conftest import LocalAirflow, start_local_airflow

pytestmark = pytest.mark.airflow

EXPECTED_REASONS = {
    1: {("kham_chua_benh", "fields_incomplete"), ("kham_chua_benh", "signature_missing"),
        ("ho_tich", "fields_incomplete")},
    5: {("viec_lam", "fields_incomplete")},
    18: {("kham_chua_benh", "fields_incomplete"), ("kham_chua_benh", "signature_missing"),
         ("ho_tich", "fields_incomplete")},
    19: {("kham_chua_benh", "fields_incomplete"), ("kham_chua_benh", "signature_missing"),
         ("ho_tich", "fields_incomplete"), ("nguoi_co_cong", "fields_incomplete"), ("bao_tro_xa_hoi", "no_data")},
    20: {("dang_ky_doanh_nghiep", "access_denied"), ("dat_dai", "database_broken")},
    21: {("dat_dai", "database_broken")},
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def appendix_airflow(request, tmp_path_factory) -> Iterator[LocalAirflow]:
    if request.param == "postgresql":
        store_url = request.getfixturevalue("postgres_store_module")
    else:
        store_url = None
    yield from start_local_airflow(tmp_path_factory.mktemp(request.param), "appendix-2025", store_url)


def test_appendix_scenario_matches_the_appendix(appendix_airflow, catalog):
    states = appendix_airflow.sweep()
    assert len(states) == len(catalog.databases) + 1
    assert states["monitor_services"] == "success"
    assert states["monitor_dat_dai"] == "failed"

    status = appendix_airflow.status()
    not_ready = {item["number"] for item in status["services"] if item["end_to_end_ready"] is False}
    per_appendix = {service.number for service in catalog.services if not service.end_to_end_per_appendix}
    assert not_ready == per_appendix
    assert all(item["end_to_end_ready"] is not None for item in status["services"])

    for item in status["services"]:
        reasons = {(reason["database"], reason["kind"]) for reason in item["blocking_reasons"]}
        assert reasons == EXPECTED_REASONS.get(item["number"], set()), item["number"]

    databases = {item["code"]: item for item in status["databases"]}
    assert databases["dat_dai"]["status"] == "BROKEN"
    assert databases["dat_dai"]["failure_kind"] == "refused"
    assert databases["bao_tro_xa_hoi"]["status"] == "NO_DATA"
    assert databases["dan_cu"]["status"] == "OK"


def test_sweep_leaves_history_rows(appendix_airflow, catalog):
    from sqlalchemy import create_engine, text

    engine = create_engine(appendix_airflow.env["INTEGRATION_MONITOR_STORE_URL"])
    with engine.connect() as connection:
        checks = connection.execute(text("select count(distinct database_code), count(*) from database_checks")).one()
        services = connection.execute(text("select count(distinct service_number) from service_statuses")).one()
        values = connection.execute(text("select count(*) from field_checks")).one()
    engine.dispose()
    assert checks[0] == len(catalog.databases)
    assert services[0] == 25
    assert values[0] > 300


def test_report_names_reasons_in_vietnamese(appendix_airflow):
    completed = appendix_airflow.cli("status")
    assert completed.returncode == 0
    assert "CHƯA TOÀN TRÌNH" in completed.stdout
    assert "Cơ sở dữ liệu quốc gia về đất đai: mất kết nối" in completed.stdout
    english = appendix_airflow.cli("status", "--lang", "en")
    assert "NOT READY" in english.stdout
