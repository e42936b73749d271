#!/usr/bin/env bash
# Migrate Airflow's metadata database, then the status store. The compose `init` service and
# the native distributed test run this script; both migrations are safe to run again.
set -euo pipefail

: "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:?is not set; set it to the URL of the Airflow metadata database}"
: "${INTEGRATION_MONITOR_STORE_URL:?is not set; set it to the URL of the status store database}"

# .env.example marks every secret with a change-me value, and starting with one would run
# Airflow with a publicly known key or password.
placeholders=()
for name in AIRFLOW__CORE__FERNET_KEY AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__API__SECRET_KEY \
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN AIRFLOW__CELERY__BROKER_URL INTEGRATION_MONITOR_STORE_URL; do
  case "${!name:-}" in
    *change-me*) placeholders+=("$name") ;;
  esac
done
if (( ${#placeholders[@]} > 0 )); then
  echo "init: these settings still contain a change-me placeholder from .env.example: ${placeholders[*]}." \
       "Replace every change-me value in .env and run again." >&2
  exit 1
fi

echo "init: migrating Airflow's metadata database"
airflow db migrate

echo "init: migrating the status store"
integration-monitor store upgrade
