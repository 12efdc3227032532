"""Shared fixtures: the local stack (session scope) and an Airflow home per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import local_stack  # noqa: E402

# Airflow reads its config at import: give the test session its own home and sqlite DB before anything imports it.
_AIRFLOW_HOME = Path(os.environ.setdefault("AIRFLOW_HOME", str(REPO_ROOT / ".stack" / "pytest-airflow-home")))
_AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")


@pytest.fixture(scope="session")
def local_stack_state(tmp_path_factory: pytest.TempPathFactory):
    """Start moto (and the emulators) on free loopback ports once per session; stop exactly those processes after."""
    state_dir = tmp_path_factory.mktemp("stack")
    state = local_stack.up(state_dir, list(local_stack.STARTERS))
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


@pytest.fixture(scope="session")
def moto_url(local_stack_state) -> str:
    return local_stack_state.services["moto"]["url"]


@pytest.fixture
def moto_reset(moto_url: str) -> str:
    """Wipe every moto backend before a test that needs a clean account."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10)
    return moto_url
