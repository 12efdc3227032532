"""docker-compose.yaml: validated by ``docker compose config`` where a compose client exists, and by structure always.

No Docker engine runs here, so nothing is started: these tests check that the file would wire Airflow to the same
stand-ins, with the same connections, that ``scripts/local_stack.py`` gives the test suite.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import local_stack
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]
STAND_INS = ["moto", "athena", "gcs", "bigquery"]


def _compose_command() -> list[str] | None:
    """The compose client available here (plugin or standalone), or None; `config` needs no engine."""
    candidates = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for command in candidates:
        probe = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return command
    return None


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def _port_of(command: list[str], flag: str) -> str:
    """The value of ``--flag N`` or ``--flag=N`` in a service command."""
    for i, arg in enumerate(command):
        if arg == flag:
            return command[i + 1]
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{flag} not in {command}")


def test_compose_config_is_valid_for_the_compose_client():
    command = _compose_command()
    if command is None:
        pytest.skip("no compose client here (docker CLI without the compose plugin); structure is checked below")
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "-q"], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stderr


def test_every_service_of_the_stack_is_defined(services: dict):
    expected = {"postgres", "airflow-init", *AIRFLOW_SERVICES, *STAND_INS}
    assert expected <= set(services), f"missing: {expected - set(services)}"


def test_published_ports_bind_to_loopback_only(services: dict):
    published = [(name, port) for name, svc in services.items() for port in svc.get("ports", [])]
    assert published, "nothing is published: the UI and the stand-ins should be reachable from the host"
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    assert ("airflow-apiserver", "127.0.0.1:8080:8080") in published


def test_long_running_services_have_healthchecks(services: dict):
    for name, svc in services.items():
        if name in ("airflow-init", "demo-seed"):  # one-shot jobs: their exit status is the check
            continue
        check = svc.get("healthcheck", {}).get("test")
        assert check and check[0] in {"CMD", "CMD-SHELL"}, f"{name} has no healthcheck"


def test_airflow_waits_for_init_database_and_stand_ins(services: dict):
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"] == {"condition": "service_completed_successfully"}, name
        for dependency in ["postgres", *STAND_INS]:
            assert depends[dependency] == {"condition": "service_healthy"}, f"{name} -> {dependency}"
    assert services["airflow-init"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "airflow db migrate" in services["airflow-init"]["command"][-1]
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }


def test_airflow_image_is_3_3_2_with_the_provider_installed_from_the_repo(services: dict):
    for name in ["airflow-init", *AIRFLOW_SERVICES]:
        assert services[name]["build"] == {"context": ".", "dockerfile": "docker/Dockerfile"}, name
    dockerfile = (REPO_ROOT / "docker" / "Dockerfile").read_text()
    assert "ARG AIRFLOW_VERSION=3.3.2" in dockerfile
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}-python3\.11$", dockerfile, re.M)
    assert "COPY --chown=airflow:0 plugins/ /opt/ddb-lake/plugins/" in dockerfile
    assert re.search(r"pip install --no-cache-dir --no-deps /opt/ddb-lake\b", dockerfile)
    assert "import ddb_lake" in dockerfile
    _assert_copied_paths_exist(dockerfile)


def test_emulator_image_uses_the_locked_pins_and_the_offline_launcher(services: dict):
    dockerfile = (REPO_ROOT / "docker" / "Dockerfile.emulators").read_text()
    assert "pip install --no-cache-dir -r /opt/emulators/requirements-emulators-lock.txt" in dockerfile
    assert "COPY scripts/bqemulator_launcher.py /opt/emulators/bqemulator_launcher.py" in dockerfile
    _assert_copied_paths_exist(dockerfile)
    assert services["bigquery"]["command"][:2] == ["python", "/opt/emulators/bqemulator_launcher.py"]
    assert services["moto"]["image"] == "motoserver/moto:5.2.5"


def _assert_copied_paths_exist(dockerfile: str) -> None:
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            sources = [part for part in line.split()[1:-1] if not part.startswith("--")]
            for source in sources:
                assert (REPO_ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"


def test_build_context_leaves_out_the_venvs():
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv/", ".venv-emulators/", ".git/", ".stack/"} <= set(ignored)


def test_bigquery_reads_gs_uris_from_the_gcs_emulator_folder(services: dict):
    gcs, bigquery = services["gcs"], services["bigquery"]
    data_dir = gcs["command"][gcs["command"].index("-d") + 1]
    assert "--in-memory" not in gcs["command"] and "-M" not in gcs["command"], "bqemulator needs GCS on disk"
    assert bigquery["environment"]["BQEMU_GCS_LOCAL_ROOT"] == f"{data_dir}/.cloudstorage"
    shared = {v for v in gcs["volumes"] if v.endswith(f":{data_dir}")} & set(bigquery["volumes"])
    assert shared, "gcs and bigquery must mount the same volume at the GCS data dir"


def test_airflow_connections_point_at_the_stand_in_services(services: dict):
    env = services["airflow-scheduler"]["environment"]
    aws = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    endpoint = urlsplit(aws["extra"]["endpoint_url"])
    assert (aws["conn_type"], endpoint.hostname) == ("aws", "moto")
    assert f"127.0.0.1:{endpoint.port}:{endpoint.port}" in services["moto"]["ports"]
    athena = urlsplit(aws["extra"]["service_config"]["athena"]["endpoint_url"])
    assert athena.hostname == "athena" and str(athena.port) == _port_of(services["athena"]["command"], "--port")
    assert _port_of(services["athena"]["command"], "--aws-endpoint") == aws["extra"]["endpoint_url"]

    google = json.loads(env["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"])
    assert google == json.loads(local_stack._google_env()["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"])
    storage = urlsplit(env["STORAGE_EMULATOR_HOST"])
    assert storage.hostname == "gcs" and str(storage.port) == _port_of(services["gcs"]["command"], "--port")
    bq = urlsplit(env["BIGQUERY_EMULATOR_HOST"])
    assert bq.hostname == "bigquery" and str(bq.port) == _port_of(services["bigquery"]["command"], "--rest-port")
    assert google["extra"]["project"] == _port_of(services["bigquery"]["command"], "--project")


def test_airflow_gets_the_same_client_settings_as_the_test_stack(services: dict):
    shared = {k: v for k, v in local_stack._google_env().items() if not k.startswith("AIRFLOW_CONN_")}
    for name in ["airflow-init", *AIRFLOW_SERVICES]:
        env = services[name]["environment"]
        assert {k: env.get(k) for k in shared} == shared, name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres/airflow")


def test_demo_seed_creates_every_demo_tables_resources_before_the_scheduler_runs(services: dict):
    seed = services["demo-seed"]
    assert seed["restart"] == "no" and seed["build"] == services["airflow-scheduler"]["build"]
    assert seed["environment"] == services["airflow-scheduler"]["environment"]  # same connections to the stand-ins
    for dependency in ["postgres", *STAND_INS]:
        assert seed["depends_on"][dependency] == {"condition": "service_healthy"}, dependency
    assert {"./include:/opt/airflow/include", "./scripts:/opt/airflow/scripts:ro"} <= set(seed["volumes"])
    script = seed["command"][-1]
    assert "for table in /opt/airflow/include/tables/*.yaml" in script
    assert 'python /opt/airflow/scripts/seed_demo.py "$$table"' in script and "set -e" in script
    assert (REPO_ROOT / "scripts" / "seed_demo.py").is_file()
    assert list((REPO_ROOT / "include" / "tables").glob("*.yaml"))
    assert services["airflow-scheduler"]["depends_on"]["demo-seed"] == {"condition": "service_completed_successfully"}


def test_readme_tells_docker_users_about_compose_and_the_seeding():
    readme = (REPO_ROOT / "README.md").read_text()
    assert "docker compose up -d --build" in readme and "demo-seed" in readme
