# Airflow image with the integration monitor installed: the official image of the Airflow
# version pinned in requirements.lock, the locked dependencies, the package, and the DAGs,
# plugins, catalog and expectation suites under /opt/airflow (AIRFLOW_HOME).
FROM apache/airflow:3.3.2-python3.11

ENV INTEGRATION_MONITOR_HOME=/opt/airflow \
    GX_ANALYTICS_ENABLED=False \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Naming the image's own Airflow version next to the lock makes pip fail on a mismatch
# instead of replacing the Airflow that the image was built and tested with.
COPY --chown=airflow:0 requirements.lock /tmp/integration-monitor/requirements.lock
RUN pip install -r /tmp/integration-monitor/requirements.lock "apache-airflow==${AIRFLOW_VERSION}"

# .dockerignore lets through only the package source, dags/, plugins/, include/, expectations/
# and deploy/, so a folder that a checkout lacks is skipped instead of failing the build.
COPY --chown=airflow:0 . /tmp/integration-monitor/source/
RUN pip install --no-deps /tmp/integration-monitor/source \
    && cd /tmp/integration-monitor/source \
    && for folder in dags plugins include expectations deploy; do \
         if [ -d "$folder" ]; then mkdir -p "/opt/airflow/$folder" && cp -R "$folder/." "/opt/airflow/$folder/"; fi; \
       done \
    && mkdir -p /opt/airflow/auth \
    && rm -rf /tmp/integration-monitor

# Fail the build, not the first task, when the locked packages cannot run this topology:
# Airflow's own version, asyncpg for its PostgreSQL async engine, and the Celery executor.
RUN AIRFLOW_HOME=/tmp/airflow-check python -c "import airflow, asyncpg, integration_monitor; \
import airflow.providers.celery.executors.celery_executor_utils; \
assert airflow.__version__ == '${AIRFLOW_VERSION}', airflow.__version__" \
    && rm -rf /tmp/airflow-check
