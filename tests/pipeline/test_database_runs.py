"""End-to-end DAG runs of one database against the stub server: healthy, degraded, broken, flapping."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.airflow

DATABASE = "can_cuoc"  # read by service 8 only, together with dan_cu
DAG_ID = f"monitor_{DATABASE}"


def latest_check(store_rows):
    rows = store_rows(
        "select id, status, failure_kind, record_count, attempts, http_status from database_checks "
        f"where database_code = '{DATABASE}' order by id desc limit 1"
    )
    assert rows, "no check recorded"
    return dict(zip(("id", "status", "failure_kind", "record_count", "attempts", "http_status"), rows[0]))


def service_8_reasons(local_airflow):
    service = next(item for item in local_airflow.status()["services"] if item["number"] == 8)
    return [reason for reason in service["blocking_reasons"] if reason["database"] == DATABASE]


def test_healthy_database_is_ok(local_airflow, store_rows):
    local_airflow.stub.reset()
    states = local_airflow.sweep(DAG_ID)
    assert states[DAG_ID] == "success"
    check = latest_check(store_rows)
    assert check["status"] == "OK"
    assert check["failure_kind"] is None
    assert check["record_count"] > 0
    fields = store_rows(f"select count(*), sum(passed) from field_checks where check_id = {check['id']}")
    assert fields[0][0] == fields[0][1] > 0
    assert service_8_reasons(local_airflow) == []


def test_incomplete_field_degrades(local_airflow, store_rows, catalog):
    field = catalog.service(8).databases[1].required_fields[0]
    local_airflow.stub.reset()
    local_airflow.stub.set_scenario(
        DATABASE, {"completeness": [{"fields": [field], "missing_share": 0.5, "style": "whitespace"}]}
    )
    local_airflow.sweep(DAG_ID)

    check = latest_check(store_rows)
    assert check["status"] == "DEGRADED"
    figures = store_rows(f"select completeness, passed from field_checks where check_id = {check['id']} "
                         f"and field_code = '{field}'")
    assert 0.3 < figures[0][0] < 0.7
    assert not figures[0][1]
    reasons = service_8_reasons(local_airflow)
    assert [reason["kind"] for reason in reasons] == ["fields_incomplete"]
    assert reasons[0]["fields"] == [field]


def test_broken_endpoint_fails_and_is_recorded(local_airflow, store_rows):
    local_airflow.stub.reset()
    local_airflow.stub.set_scenario(DATABASE, {"fault": "http_503"})
    states = local_airflow.sweep(DAG_ID)
    assert states[DAG_ID] == "failed"  # the fetch task fails in the Airflow UI

    check = latest_check(store_rows)
    assert check["status"] == "BROKEN"
    assert check["failure_kind"] == "http_5xx"
    assert check["http_status"] == 503
    incidents = store_rows(f"select closed_at from incidents where scope = 'database' and subject = '{DATABASE}' "
                           "order by id desc limit 1")
    assert incidents[0][0] is None
    assert [reason["kind"] for reason in service_8_reasons(local_airflow)] == ["database_broken"]

    local_airflow.stub.reset()
    local_airflow.sweep(DAG_ID)
    assert latest_check(store_rows)["status"] == "OK"
    closed = store_rows(f"select closed_at from incidents where scope = 'database' and subject = '{DATABASE}' "
                        "order by id desc limit 1")
    assert closed[0][0] is not None


def test_flapping_endpoint_is_absorbed_by_retries(local_airflow, store_rows):
    local_airflow.stub.reset()
    local_airflow.stub.set_scenario(DATABASE, {"fault": "http_502", "flapping": True})
    outcomes = []
    for _ in range(2):
        local_airflow.sweep(DAG_ID)
        outcomes.append(latest_check(store_rows))
    assert [check["status"] for check in outcomes] == ["OK", "OK"]
    assert max(check["attempts"] for check in outcomes) >= 2


def test_schema_drift_is_classified(local_airflow, store_rows, catalog):
    field = catalog.service(8).databases[1].required_fields[0]
    local_airflow.stub.reset()
    local_airflow.stub.set_scenario(DATABASE, {"fault": "schema_drift", "fault_options": {"rename": {field: field + "_MOI"}}})
    local_airflow.sweep(DAG_ID)
    check = latest_check(store_rows)
    assert check["status"] == "DEGRADED"
    assert check["failure_kind"] == "schema_drift"
    reasons = service_8_reasons(local_airflow)
    assert [reason["kind"] for reason in reasons] == ["fields_missing"]
    assert reasons[0]["fields"] == [field]
