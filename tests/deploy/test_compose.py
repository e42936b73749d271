"""docker-compose.yml, read by docker-compose itself: services, health checks, loopback ports,
secrets only from .env, migrations in the init job, and the same commands as the native run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
INIT_SCRIPT = REPO / "deploy" / "init.sh"
STORE_INIT_SCRIPT = REPO / "deploy" / "postgres" / "create-status-store.sh"

AIRFLOW_SERVICES = {"api-server", "scheduler", "dag-processor", "triggerer", "worker"}
ONE_SHOT_JOBS = {"init", "stub-connections"}
STUB_SERVICES = {"stubs", "stub-connections"}
EXPECTED_SERVICES = {"postgres", "redis", *AIRFLOW_SERVICES, *ONE_SHOT_JOBS, *STUB_SERVICES}
# Variable names whose values are secrets, in .env.example and in the containers' environment.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|_KEY$|_CONN$|BROKER_URL|RESULT_BACKEND|STORE_URL|AUTH$")


def docker_compose() -> str:
    """Return the docker-compose executable, failing (not skipping) when it is missing."""
    executable = shutil.which("docker-compose") or ("/usr/bin/docker-compose" if Path("/usr/bin/docker-compose").exists() else None)
    if executable is None:
        pytest.fail("docker-compose was not found: install Debian's docker-compose package "
                    "(apt-get install docker-compose); .ci/run installs it before the tests")
    return executable


def run_compose_config(env_file: Path, tmp_home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    # Variables of the calling shell would win over the env file, so compose gets a clean environment.
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_home)}
    return subprocess.run(
        [docker_compose(), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "--profile", "stubs", "config", *extra],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    completed = run_compose_config(ENV_EXAMPLE, tmp_path_factory.mktemp("home"))
    assert completed.returncode == 0, f"docker-compose config failed:\n{completed.stderr}"
    return yaml.safe_load(completed.stdout)


@pytest.fixture(scope="module")
def services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return config["services"]


@pytest.fixture(scope="module")
def raw_services() -> dict[str, dict[str, Any]]:
    """The services as written in the file, before compose substitutes ${...} values."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]


def test_expected_services_present(services):
    assert set(services) == EXPECTED_SERVICES


def test_long_running_services_have_health_checks(services):
    for name, service in services.items():
        if name in ONE_SHOT_JOBS:
            continue
        healthcheck = service.get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
        assert healthcheck.get("test"), f"{name} has an empty healthcheck test"


def test_one_shot_jobs_do_not_restart(services):
    for name in ONE_SHOT_JOBS:
        assert services[name]["restart"] == "no", name


def test_published_ports_bound_to_loopback(services):
    published = []
    for name, service in services.items():
        for port in service.get("ports", []):
            mapping = port if isinstance(port, str) else f"{port.get('host_ip', '')}:{port.get('published')}"
            published.append(name)
            assert mapping.startswith("127.0.0.1:"), f"{name} publishes {mapping} beyond 127.0.0.1"
    assert published == ["api-server"]


def test_compose_file_has_no_literal_secrets(raw_services):
    for name, service in raw_services.items():
        environment = service.get("environment") or {}
        for variable, value in environment.items():
            # A *_FILE setting names where a secret is kept, not the secret itself.
            if SECRET_NAME.search(variable) and not variable.endswith("_FILE") and "${" not in str(value):
                pytest.fail(f"{name}: {variable} is written in the file instead of coming from .env")
    redis_command = " ".join(raw_services["redis"]["command"])
    assert "$$REDISCLI_AUTH" in redis_command


def test_env_example_has_only_placeholder_secrets():
    values = read_env_file(ENV_EXAMPLE)
    secret_names = [name for name in values if SECRET_NAME.search(name)]
    assert len(secret_names) >= 7, secret_names
    for name in secret_names:
        assert values[name].startswith("change-me"), f".env.example gives {name} a value that is not a placeholder"


def test_env_example_defines_every_required_setting():
    lines = COMPOSE_FILE.read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert required, "the compose file requires no setting"
    assert required <= set(read_env_file(ENV_EXAMPLE)), required - set(read_env_file(ENV_EXAMPLE))


def test_gitignore_keeps_env_file_out():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO, check=False)
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", ".env"], cwd=REPO, capture_output=True, check=False)
    assert tracked.returncode != 0, ".env is committed"
    assert ignored.returncode == 0 or not (REPO / ".env").exists(), ".env exists and is not ignored by git"


def test_missing_setting_stops_compose(tmp_path):
    values = read_env_file(ENV_EXAMPLE)
    del values["STORE_DB_PASSWORD"]
    env_file = tmp_path / "incomplete.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in values.items()), encoding="utf-8")

    completed = run_compose_config(env_file, tmp_path)

    assert completed.returncode != 0
    assert "set STORE_DB_PASSWORD in .env" in completed.stderr


def test_airflow_services_use_celery_on_redis_and_postgres(services):
    from sqlalchemy.engine import make_url

    for name in AIRFLOW_SERVICES | ONE_SHOT_JOBS:
        environment = services[name]["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert environment["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert "@redis:6379/" in environment["AIRFLOW__CELERY__BROKER_URL"], name
        # SQLAlchemy 2.1 picks psycopg 3 for a bare postgresql:// URL; the lock has psycopg2 only.
        assert environment["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://"), name

        metadata = make_url(environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        store = make_url(environment["INTEGRATION_MONITOR_STORE_URL"])
        assert metadata.get_backend_name() == store.get_backend_name() == "postgresql", name
        assert metadata.host == store.host == "postgres", name
        assert metadata.database != store.database, f"{name}: the status store shares Airflow's database"
        assert metadata.username != store.username, f"{name}: the status store shares Airflow's database user"


def test_airflow_services_share_keys(services):
    shared = ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL")
    for variable in shared:
        values = {services[name]["environment"][variable] for name in AIRFLOW_SERVICES | ONE_SHOT_JOBS}
        assert len(values) == 1, f"{variable} differs between Airflow services"


def test_postgres_creates_status_store_database(services):
    postgres = services["postgres"]
    volumes = [volume if isinstance(volume, str) else f"{volume['source']}:{volume['target']}"
               for volume in postgres["volumes"]]
    assert any(volume.endswith("/deploy/postgres/create-status-store.sh:/docker-entrypoint-initdb.d/create-status-store.sh:ro")
               for volume in volumes), volumes
    environment = postgres["environment"]
    assert environment["STORE_DB_NAME"] != environment["POSTGRES_DB"]


def test_init_service_runs_both_migrations(services):
    assert services["init"]["command"] == ["bash", "/opt/airflow/deploy/init.sh"]
    commands = [line.strip() for line in INIT_SCRIPT.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert "airflow db migrate" in commands
    assert "integration-monitor store upgrade" in commands
    for name in AIRFLOW_SERVICES:
        assert services[name]["depends_on"]["init"] == {"condition": "service_completed_successfully"}, name


def test_components_match_local_up(services):
    from integration_monitor.local.up import AIRFLOW_COMPONENTS

    assert AIRFLOW_COMPONENTS, "local/up.py starts no component"
    for name, arguments in AIRFLOW_COMPONENTS:
        assert name in services, f"integration-monitor up starts {name}, the compose file does not"
        assert services[name]["command"] == list(arguments), name


def test_workers_run_celery_worker(services):
    from integration_monitor.local.distributed import CELERY_WORKER_COMMAND

    worker = services["worker"]
    assert worker["command"] == list(CELERY_WORKER_COMMAND)
    assert worker["command"][:2] == ["celery", "worker"]
    assert worker["deploy"]["replicas"] >= 1
    assert "container_name" not in worker, "a fixed container name prevents --scale"
    assert not worker.get("ports"), "scaled workers cannot share a published port"
    assert worker["depends_on"]["api-server"] == {"condition": "service_healthy"}


def test_stubs_are_an_optional_profile(services):
    for name, service in services.items():
        expected = ["stubs"] if name in STUB_SERVICES else None
        assert service.get("profiles") == expected, name

    stub_command = services["stubs"]["command"]
    base_port = stub_command[stub_command.index("--port") + 1]
    connections_command = services["stub-connections"]["command"]
    assert connections_command[:2] == ["python", "/opt/airflow/deploy/create_stub_connections.py"]
    assert connections_command[connections_command.index("--host") + 1] == "stubs"
    assert connections_command[connections_command.index("--base-port") + 1] == base_port


def test_dockerfile_extends_image_of_locked_airflow():
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    locked = re.search(r"^apache-airflow==(\S+)$", lock, re.MULTILINE)
    assert locked, "requirements.lock does not pin apache-airflow"
    base = re.search(r"^FROM (\S+)", (REPO / "Dockerfile").read_text(encoding="utf-8"), re.MULTILINE)
    assert base, "Dockerfile has no FROM line"
    assert base.group(1) == f"apache/airflow:{locked.group(1)}-python3.11"


def test_dockerignore_lets_image_inputs_through():
    rules = [line.strip() for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert rules[0] == "*"
    for needed in ("pyproject.toml", "requirements.lock", "README.md", "src/", "dags/", "plugins/",
                   "include/", "expectations/", "deploy/"):
        assert f"!{needed}" in rules, needed


def test_init_script_rejects_placeholders(tmp_path):
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:change-me-airflow-db-password@postgres/airflow",
        "INTEGRATION_MONITOR_STORE_URL": "postgresql+psycopg2://store:secret@postgres/store",
        "AIRFLOW__CORE__FERNET_KEY": "change-me-fernet-key",
    }
    completed = subprocess.run(["bash", str(INIT_SCRIPT)], env=environment, capture_output=True, text=True,
                               timeout=60, check=False)

    assert completed.returncode == 1
    assert "AIRFLOW__CORE__FERNET_KEY" in completed.stderr
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in completed.stderr
    assert "INTEGRATION_MONITOR_STORE_URL" not in completed.stderr
    assert "migrating" not in completed.stdout


def test_init_script_requires_store_url():
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:x@postgres/airflow"}
    completed = subprocess.run(["bash", str(INIT_SCRIPT)], env=environment, capture_output=True, text=True,
                               timeout=60, check=False)

    assert completed.returncode != 0
    assert "INTEGRATION_MONITOR_STORE_URL" in completed.stderr


@pytest.mark.postgres
def test_store_init_script_creates_database_and_owner():
    from sqlalchemy import create_engine, text

    from tests.conftest import postgres_admin_url

    if shutil.which("psql") is None:
        pytest.fail("psql was not found: install Debian's postgresql-client package")
    suffix = uuid.uuid4().hex[:10]
    database, user = f"im_store_{suffix}", f"im_store_user_{suffix}"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PGHOST": "127.0.0.1", "PGPORT": "5432",
        "POSTGRES_USER": "postgres", "POSTGRES_DB": "postgres",
        "STORE_DB_NAME": database, "STORE_DB_USER": user, "STORE_DB_PASSWORD": "it's \"quoted\"; DROP",
    }
    admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        completed = subprocess.run(["bash", str(STORE_INIT_SCRIPT)], env=environment, capture_output=True,
                                   text=True, timeout=60, check=False)
        assert completed.returncode == 0, completed.stderr
        with admin.connect() as connection:
            owner = connection.execute(
                text("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :name"), {"name": database}
            ).scalar_one_or_none()
            can_login = connection.execute(
                text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :name"), {"name": user}
            ).scalar_one_or_none()
        assert owner == user
        assert can_login is True

        second = subprocess.run(["bash", str(STORE_INIT_SCRIPT)], env=environment, capture_output=True,
                                text=True, timeout=60, check=False)
        assert second.returncode != 0, "a second run must fail loudly instead of reusing the role"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{user}"'))
        admin.dispose()
