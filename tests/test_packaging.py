"""scripts/dist.sh builds a wheel that installs into a clean venv, and the bundled DAGs import from it."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def run(args: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, check=False, **kwargs)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_wheel_installs_into_clean_venv_and_dags_import(tmp_path):
    run(["bash", REPO_ROOT / "scripts" / "dist.sh"], cwd=REPO_ROOT)
    dist = REPO_ROOT / "dist"
    wheel = next(dist.glob("ddb_lake-*.whl"))
    with zipfile.ZipFile(dist / "mwaa" / "plugins.zip") as bundle:
        names = bundle.namelist()
    assert wheel.name in names and "ddb_lake/__init__.py" in names
    assert wheel.name in (dist / "mwaa" / "requirements.txt").read_text()
    for bundle_dags in (dist / "mwaa" / "dags", dist / "composer" / "dags"):
        assert (bundle_dags / "sql" / "add_snapshot_partition.sql").is_file(), bundle_dags

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

    probe = (
        "import json, ddb_lake, sys; from airflow.models import DagBag;"
        f" bag = DagBag(dag_folder={str(dist / 'composer' / 'dags')!r});"
        " athena = bag.dags['ddb_lake__orders'].get_task('lake.athena_partitions');"
        " sql = athena.get_template_env().get_template('add_snapshot_partition.sql').filename;"
        " print(json.dumps({'file': ddb_lake.__file__, 'dags': sorted(bag.dags), 'sql': sql,"
        " 'errors': {k: str(v) for k, v in bag.import_errors.items()}}))"
    )
    env = {"PATH": str(venv / "bin"), "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}  # Airflow 2 parses its example DAGs otherwise
    result = run([python, "-c", probe], env=env, cwd=tmp_path)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["file"].startswith(str(venv_site)), report["file"]
    assert report["errors"] == {}
    assert "ddb_lake__orders" in report["dags"]
    # The bundled Athena task finds its SQL template beside the DAGs, with no setting.
    assert report["sql"] == str(dist / "composer" / "dags" / "sql" / "add_snapshot_partition.sql")
