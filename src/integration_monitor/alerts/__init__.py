"""Alerts on incidents of national databases and public services.

The record and rollup tasks hand their results to :mod:`integration_monitor.alerts.hooks`;
the engine decides, records and sends alerts through Airflow's Apprise and SMTP notifiers.
"""
