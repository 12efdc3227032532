"""Run DAGs with ``airflow dags test`` in an Airflow home of the test's own, on the session's local stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from ddb_lake.compat import AIRFLOW_V3

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).parent / "airflow"


def table_file(tables_dir: Path, name: str, **overrides: dict) -> Path:
    """The demo table's settings renamed to ``name`` (own DynamoDB table, bucket, database), with overrides."""
    settings = yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    settings.update(name=name, tags=["e2e"])
    settings["dynamodb"]["table_name"] = name.replace("_", "-")
    settings["lake"] = {"bucket": name.replace("_", "-"), "prefix": "lake"}
    settings["glue"]["database"] = f"{name}_db"
    settings["athena"]["output_location"] = f"s3://{name.replace('_', '-')}/athena-results/"
    settings["bigquery"].update(dataset=f"{name}_ds", gcs_bucket=f"{name.replace('_', '-')}-staging")
    for section, values in overrides.items():
        if values is None:
            settings.pop(section, None)
        elif isinstance(values, dict):
            settings[section].update(values)
        else:
            settings[section] = values
    tables_dir.mkdir(parents=True, exist_ok=True)
    path = tables_dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def airflow_env(root: Path, tables_dir: Path) -> dict[str, str]:
    """An initialised Airflow home under ``root``: the project's DAGs folder, table files from ``tables_dir``."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(root / "airflow-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "DDB_LAKE_TABLES_DIR": str(tables_dir),
    }
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_migrated_database(env), home / "airflow.db")
    return env


_TEMPLATE_DB: list[Path] = []


def _migrated_database(env: dict[str, str]) -> Path:
    """An empty metadata database, migrated by ``airflow db migrate`` once per test process (about 10 s); every
    Airflow home of the process starts from a copy of its sqlite file."""
    if not _TEMPLATE_DB:
        template_home = Path(tempfile.mkdtemp(prefix="ddb-lake-airflow-db-"))
        subprocess.run([AIRFLOW, "db", "migrate"], env={**env, "AIRFLOW_HOME": str(template_home)}, check=True,
                       capture_output=True, timeout=300)
        _TEMPLATE_DB.append(template_home / "airflow.db")
    return _TEMPLATE_DB[0]


def dags_test(env: dict[str, str], dag_id: str, logical_date: str, log: Path) -> str:
    """Run one interval inline (deferred tasks' triggers included); return the log text."""
    with log.open("a") as out:
        subprocess.run([AIRFLOW, "dags", "test", dag_id, logical_date], env=env, stdout=out,
                       stderr=subprocess.STDOUT, timeout=600, check=False)
    return log.read_text()


def run_states(env: dict[str, str], dag_id: str) -> list[tuple[str, str]]:
    """(logical date, state) of every run of ``dag_id``, oldest first, from ``airflow dags list-runs``."""
    if AIRFLOW_V3:
        command = [AIRFLOW, "dags", "list-runs", dag_id, "-o", "json"]
    else:  # Airflow 2 lists runs only of DAGs in its dag table, which `dags test` leaves empty; -d names the DAG
        subprocess.run([AIRFLOW, "dags", "reserialize"], env=env, check=True, capture_output=True, timeout=300)
        command = [AIRFLOW, "dags", "list-runs", "-d", dag_id, "-o", "json"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=True)
    # Airflow may print warnings and (Airflow 2) "[<time>] ..." log lines first; the JSON is the line that is a list.
    runs = next(_json_list(line) for line in result.stdout.splitlines() if _json_list(line) is not None)
    return sorted((run.get("logical_date", run.get("execution_date")), run["state"]) for run in runs)


def _json_list(line: str) -> list | None:
    """The line as a JSON list, or None when it is not one."""
    if not line.startswith("["):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def extra_link_urls(env: dict[str, str], dag_id: str) -> dict[tuple[str, str], str]:
    """``{(task_id, link xcom key): url}`` of every operator extra link the run's tasks stored (Airflow 3: the worker
    resolves the links when a task finishes and stores each URL as an XCom ``_link_<class>``; the UI reads those)."""
    import sqlite3

    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT task_id, key, value FROM xcom WHERE dag_id = ? AND key LIKE '\\_link\\_%' "
                            "ESCAPE '\\'", (dag_id,)).fetchall()
    return {(task, key): json.loads(value) for task, key, value in rows}


def rendered_fields(env: dict[str, str], dag_id: str, task_id: str) -> dict:
    """The task's rendered template fields as the UI's "Rendered Templates" shows them (the run's last row)."""
    import sqlite3

    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT rendered_fields FROM rendered_task_instance_fields WHERE dag_id = ? AND task_id = ?",
                           (dag_id, task_id)).fetchone()
    return json.loads(row[0]) if row else {}
