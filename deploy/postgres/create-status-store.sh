#!/usr/bin/env bash
# Create the status store's PostgreSQL role and database, owned by that role, next to Airflow's
# metadata database. The postgres image runs the scripts in /docker-entrypoint-initdb.d only
# when its data volume is empty. On an existing volume, run this script by hand once.
set -euo pipefail

: "${STORE_DB_NAME:?is not set}"
: "${STORE_DB_USER:?is not set}"
: "${STORE_DB_PASSWORD:?is not set}"

# psql's :"name" and :'value' forms quote the variables, so no value is pasted into SQL as is.
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
     -v store_db="$STORE_DB_NAME" -v store_user="$STORE_DB_USER" -v store_password="$STORE_DB_PASSWORD" <<'SQL'
CREATE ROLE :"store_user" LOGIN PASSWORD :'store_password';
CREATE DATABASE :"store_db" OWNER :"store_user";
REVOKE ALL ON DATABASE :"store_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"store_db" TO :"store_user";
SQL
echo "create-status-store: created database $STORE_DB_NAME owned by $STORE_DB_USER"
