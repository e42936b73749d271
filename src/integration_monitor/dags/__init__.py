"""Builders of the monitoring DAGs from the catalog (imported by the thin files in ``dags/``)."""
