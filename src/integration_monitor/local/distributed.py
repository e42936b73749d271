"""The production topology on one machine: Airflow with the CeleryExecutor, a Celery worker,
PostgreSQL and Redis, started from the same commands as docker-compose.yml."""

from __future__ import annotations

# The worker's Airflow arguments. --skip-serve-logs keeps it from serving logs on all
# interfaces (port 8793); in compose the api-server reads task logs from a shared volume.
CELERY_WORKER_COMMAND = ("celery", "worker", "--skip-serve-logs")
