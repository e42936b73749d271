"""The operator dashboard served inside the Airflow UI: pages, a JSON API and exports."""
