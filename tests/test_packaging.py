"""scripts/dist.sh builds a wheel that installs into a clean venv, bundles that follow each platform's rules
(docs/deploy.md), and DAGs that import from the wheel. Built once per module into a temporary folder."""

from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parent.parent


def run(args: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, check=False, **kwargs)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


# scripts/dist.sh builds in the repository (build/, *.egg-info): under xdist, one worker runs every packaging test.
pytestmark = pytest.mark.xdist_group("packaging")

def dist_sh(dist: Path, **env: str) -> Path:
    run(["bash", REPO_ROOT / "scripts" / "dist.sh"], cwd=REPO_ROOT,
        env={**os.environ, "PYTHON": sys.executable, "DIST_DIR": str(dist), **env})
    return dist


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    return dist_sh(tmp_path_factory.mktemp("dist"))


def locked(name: str) -> str:
    text = (REPO_ROOT / "requirements-lock.txt").read_text()
    return re.search(rf"^{re.escape(name)}==(\S+)$", text, re.M).group(1)


def test_mwaa_bundle_one_copy_constraints_and_pinned_providers(dist):
    wheel = next(dist.glob("ddb_lake-*.whl"))
    with zipfile.ZipFile(dist / "mwaa" / "plugins.zip") as bundle:
        assert bundle.namelist() == [wheel.name]  # the code once: no ddb_lake/ folder beside the wheel
    lines = (dist / "mwaa" / "requirements.txt").read_text().splitlines()
    airflow = locked("apache-airflow")
    assert lines == [
        f'--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-{airflow}/constraints-3.11.txt"',
        f"apache-airflow-providers-amazon[aiobotocore]=={locked('apache-airflow-providers-amazon')}",
        f"apache-airflow-providers-google=={locked('apache-airflow-providers-google')}",
        f"/usr/local/airflow/plugins/{wheel.name}",
    ]


def test_composer_requirements_are_pep_508(dist):
    version = next(dist.glob("ddb_lake-*.whl")).name.split("-")[1]
    assert (dist / "composer" / "requirements.txt").read_text() == f"ddb-lake=={version}\n"
    plugins_route = (dist / "composer" / "requirements-plugins-folder.txt").read_text().splitlines()
    assert "pyarrow>=14" in plugins_route and "amazon.ion>=0.15" in plugins_route
    for line in ["ddb-lake==" + version, *plugins_route]:
        requirement = Requirement(line)  # raises on a path, a URL or an option line
        assert requirement.url is None and requirement.name == line.split("=")[0].split(">")[0].split("[")[0]
    assert (dist / "composer" / "plugins" / "ddb_lake" / "links.py").is_file()
    assert not list((dist / "composer" / "plugins").rglob("__pycache__"))


def test_bundles_carry_no_demo_tables(dist):
    for bundle in ("mwaa", "composer"):
        tables = dist / bundle / "dags" / "tables"
        assert sorted(p.name for p in tables.iterdir()) == ["README.md"], bundle
        assert (dist / bundle / "dags" / "sql" / "add_snapshot_partition.sql").is_file()
        assert (dist / bundle / "dags" / "ddb_lake_tables.py").is_file()


def test_offline_mwaa_bundle_installs_from_plugins_only(dist, tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "pyarrow-26.0.1-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"stand-in")
    offline = dist_sh(tmp_path / "offline", DDB_LAKE_WHEEL=str(next(dist.glob("ddb_lake-*.whl"))),
                      DDB_LAKE_OFFLINE_WHEELS=str(wheels))
    wheel = next(offline.glob("ddb_lake-*.whl")).name
    with zipfile.ZipFile(offline / "mwaa" / "plugins.zip") as bundle:
        assert sorted(bundle.namelist()) == sorted([wheel, "pyarrow-26.0.1-cp311-cp311-manylinux_2_28_x86_64.whl"])
    lines = (offline / "mwaa" / "requirements.txt").read_text().splitlines()
    assert lines[0].startswith("--constraint ")
    assert lines[1:3] == ["--no-index", "--find-links /usr/local/airflow/plugins"]
    assert lines[-1] == f"/usr/local/airflow/plugins/{wheel}"


def test_wheel_installs_into_clean_venv_and_dags_import(dist, tmp_path):
    wheel = next(dist.glob("ddb_lake-*.whl"))
    # A venv with no ddb_lake: it sees Airflow's site-packages through a path entry, which (unlike a site dir)
    # does not run the editable install's finder, so ddb_lake can only come from the wheel.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    venv_site = next((venv / "lib").glob("python3*/site-packages"))
    (venv_site / "airflow_deps.pth").write_text(site.getsitepackages()[0] + "\n")
    python = venv / "bin" / "python"
    absent = subprocess.run([python, "-c", "import ddb_lake"], capture_output=True, text=True, check=False)
    assert absent.returncode != 0, "ddb_lake must not be importable before the wheel is installed"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel])

    # The bundle ships no table: the user's table file goes into dags/tables/ (here: the demo's orders.yaml).
    dags = dist / "composer" / "dags"
    (dags / "tables" / "orders.yaml").write_text((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    probe = (
        "import json, ddb_lake, sys; from airflow.models import DagBag;"
        f" bag = DagBag(dag_folder={str(dags)!r});"
        " athena = bag.dags['ddb_lake__orders'].get_task('lake.athena_partitions');"
        " sql = athena.get_template_env().get_template('add_snapshot_partition.sql').filename;"
        " from ddb_lake.core.convert import fast_json;"
        " print(json.dumps({'file': ddb_lake.__file__, 'dags': sorted(bag.dags), 'sql': sql,"
        " 'native': fast_json.NATIVE, 'native_file': fast_json._ddb_json.__file__ if fast_json.NATIVE else None,"
        " 'errors': {k: str(v) for k, v in bag.import_errors.items()}}))"
    )
    env = {"PATH": str(venv / "bin"), "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}  # Airflow 2 parses its example DAGs otherwise
    try:
        result = run([python, "-c", probe], env=env, cwd=tmp_path)
    finally:
        (dags / "tables" / "orders.yaml").unlink()
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["file"].startswith(str(venv_site)), report["file"]
    # the wheel carries the native JSON parser (stable ABI), loaded from the wheel's files
    assert "-cp311-abi3-" in wheel.name
    assert report["native"] is True and report["native_file"].startswith(str(venv_site)), report["native_file"]
    composer_plugins = dist / "composer" / "plugins" / "ddb_lake"
    assert not [p for p in composer_plugins.rglob("*") if p.suffix in (".so", ".c")]  # that route is pure Python
    assert report["errors"] == {}
    assert report["dags"] == ["ddb_lake__orders"]
    # The bundled Athena task finds its SQL template beside the DAGs, with no setting.
    assert report["sql"] == str(dags / "sql" / "add_snapshot_partition.sql")
