"""Airflow monitoring DAGs generated from the appendix catalog: one per national database, plus the
service rollup. The work lives in the ``integration_monitor`` package."""

from integration_monitor.dags.factory import build_all_dags

globals().update(build_all_dags())
