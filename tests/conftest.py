"""Shared fixtures: the local stack (session scope) and an Airflow home per test session.

Under pytest-xdist (``scripts/test.sh`` runs two workers) every worker is a session of its own: its own stack on its
own free ports and its own Airflow home; the fault tally (``fault_tally.py``) is summed in the controller.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import local_stack  # noqa: E402

sys.path.insert(0, str(REPO_ROOT / "tests"))

pytest_plugins = ["fault_tally", "cpu_tally"]

# Airflow reads its config at import: give the test session (each xdist worker: its own) a home and sqlite DB before
# anything imports it.
# A worker inherits the controller's environment, AIRFLOW_HOME included: it takes that home plus its own suffix.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_home = os.environ.get("AIRFLOW_HOME") or str(REPO_ROOT / ".stack" / "pytest-airflow-home")
if _WORKER and not _home.endswith(f"-{_WORKER}"):
    _home = f"{_home}-{_WORKER}"
os.environ["AIRFLOW_HOME"] = _home
_AIRFLOW_HOME = Path(_home)
_AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")


def _stack_services() -> list[str]:
    """Services the session stack starts: all (~2 s together), or e.g. ``DDB_LAKE_STACK_SERVICES=aws,athena``."""
    chosen = os.environ.get("DDB_LAKE_STACK_SERVICES", "")
    names = [name for name in chosen.split(",") if name] or list(local_stack.STARTERS)
    unknown = sorted(set(names) - set(local_stack.STARTERS))
    if unknown:
        known = list(local_stack.STARTERS)
        raise pytest.UsageError(f"DDB_LAKE_STACK_SERVICES names unknown service(s) {unknown}; known: {known}")
    return names


@pytest.fixture(scope="session", autouse=True)
def _airflow_db_template_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Where tests/e2e/airflow_runs.py keeps the migrated Airflow database every Airflow home copies: one folder for
    the whole session (under xdist the workers' temp folders share their parent), so it is migrated once."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if _WORKER else base
    os.environ["DDB_LAKE_AIRFLOW_DB_TEMPLATE_DIR"] = str(shared / "airflow-db-template")


@pytest.fixture(scope="session")
def local_stack_state(tmp_path_factory: pytest.TempPathFactory):
    """Start moto and the GCS/BigQuery emulators on free loopback ports once per session; stop exactly those after."""
    state_dir = tmp_path_factory.mktemp("stack")
    state = local_stack.up(state_dir, _stack_services())
    saved = {k: os.environ.get(k) for k in state.env}
    os.environ.update(state.env)
    try:
        yield state
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        local_stack.down(state_dir)


def _service_url(state: local_stack.StackState, name: str) -> str:
    if name not in state.services:
        pytest.fail(f"the session stack has no {name!r} service: DDB_LAKE_STACK_SERVICES left it out")
    return state.services[name]["url"]


@pytest.fixture(scope="session")
def moto_url(local_stack_state) -> str:
    return _service_url(local_stack_state, "moto")


@pytest.fixture(scope="session")
def gcs_emulator_host(local_stack_state) -> str:
    """``http://127.0.0.1:<port>`` of the GCS emulator (also exported as ``STORAGE_EMULATOR_HOST``)."""
    return _service_url(local_stack_state, "gcs")


@pytest.fixture(scope="session")
def bigquery_emulator_host(local_stack_state) -> str:
    """``http://127.0.0.1:<port>`` of bqemulator (also exported as ``BIGQUERY_EMULATOR_HOST``)."""
    return _service_url(local_stack_state, "bigquery")


@pytest.fixture(scope="session")
def gcp_project(local_stack_state) -> str:
    """The project id the ``google_cloud_default`` connection and both emulators use."""
    return local_stack.GCP_PROJECT


@pytest.fixture(scope="session")
def gcs_object_root(gcs_emulator_host: str, local_stack_state) -> Path:
    """The GCS emulator's folder: ``<root>/<bucket>/<object>`` (bqemulator reads ``gs://`` URIs from here too)."""
    return Path(local_stack_state.env["DDB_LAKE_GCS_OBJECT_ROOT"])


@pytest.fixture(scope="session")
def athena_url(local_stack_state) -> str:
    """``http://127.0.0.1:<port>`` of the Athena stand-in (scripts/athena_local.py); aws_default sends Athena there."""
    return _service_url(local_stack_state, "athena")


@pytest.fixture
def moto_reset(moto_url: str, local_stack_state) -> str:
    """Wipe every moto backend before a test that needs a clean account (and the Athena stand-in's queries with it)."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10)
    if "athena" in local_stack_state.services:
        reset = f"{local_stack_state.services['athena']['url']}/athena-local/reset"
        urllib.request.urlopen(urllib.request.Request(reset, method="POST"), timeout=10)
    return moto_url


# Slowest first: under xdist a long test that starts last leaves the other worker idle at the end of the run.
_SLOW_FIRST = ("scheduler", "e2e", "faults")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, marker in enumerate(_SLOW_FIRST) if item.get_closest_marker(marker)), len(_SLOW_FIRST))

    items.sort(key=rank)  # stable: a file's tests keep their order within a rank
