"""The monitoring pipeline's steps, called from the Airflow tasks in ``dags/``."""
