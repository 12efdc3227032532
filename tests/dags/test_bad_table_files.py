"""A bad table file, or two files that clash, never hides the other tables' DAGs; each bad file shows as a DAG whose
description and failing task name the file and the field. Probed with a DagBag in a fresh interpreter."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = REPO_ROOT / "dags" / "ddb_lake_tables.py"

PROBE = r"""
import json, sys
from airflow.models import DagBag
bag = DagBag(dag_folder=sys.argv[1])
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    failure = None
    if "config-error" in dag.tags:
        try:
            dag.get_task("table_file_error").execute({})
        except Exception as exc:
            failure = [type(exc).__name__, str(exc)]
    out["dags"][dag_id] = {"tasks": sorted(t.task_id for t in dag.tasks), "description": dag.description,
                           "doc_md": dag.doc_md, "tags": sorted(dag.tags), "failure": failure,
                           "retries": [t.retries for t in dag.tasks]}
print("PROBE:" + json.dumps(out))
"""


def probe(tables: Path, tmp_path: Path) -> dict:
    env = {
        "PATH": str(Path(sys.executable).parent), "AIRFLOW_HOME": str(tmp_path), "HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "DDB_LAKE_TABLES_DIR": str(tables),
        "PYTHONPATH": str(REPO_ROOT / "plugins"),
    }
    result = subprocess.run([sys.executable, "-c", PROBE, str(DAG_FILE)], capture_output=True, text=True, env=env,
                            timeout=300, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE:")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(lines[0][len("PROBE:"):])


def test_good_tables_load_beside_a_bad_file_and_a_clashing_pair(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    for name in ("orders.yaml", "customers.yaml"):
        shutil.copy(REPO_ROOT / "include" / "tables" / name, tables / name)
    orders = yaml.safe_load((tables / "orders.yaml").read_text())
    bad = tables / "payments.yaml"
    bad.write_text(yaml.safe_dump({**orders, "name": "payments", "schedule": "@dayly",
                                   "dynamodb": {"table_name": "demo-payments"}}))
    # Two new files that write one lake location: neither may run, the shipped tables still do.
    for name in ("refunds_a", "refunds_b"):
        (tables / f"{name}.yaml").write_text(yaml.safe_dump({
            **orders, "name": name, "dynamodb": {"table_name": f"demo-{name}"}, "bigquery": None,
            "glue": {"database": "ddb_lake_demo", "table": "refunds"},
        }))

    report = probe(tables, tmp_path)

    assert report["errors"] == {}
    dags = report["dags"]
    assert set(dags) == {
        "ddb_lake__orders", "ddb_lake__customers", "ddb_lake__customers__incremental",
        "ddb_lake__config_error__payments.yaml", "ddb_lake__config_error__refunds_a.yaml",
        "ddb_lake__config_error__refunds_b.yaml",
    }
    assert "bigquery.load" in dags["ddb_lake__orders"]["tasks"]

    broken = dags["ddb_lake__config_error__payments.yaml"]
    expected = f"{bad}: schedule: '@dayly' is not a cron expression or one of @hourly"
    assert broken["tasks"] == ["table_file_error"] and broken["retries"] == [0]
    assert broken["description"].startswith(f"ddb-lake table file is invalid: {expected}")
    assert expected in broken["doc_md"]
    assert broken["failure"][0] == "AirflowFailException" and broken["failure"][1].startswith(expected)
    assert "config-error" in broken["tags"] and "ddb-lake" in broken["tags"]

    clash = dags["ddb_lake__config_error__refunds_b.yaml"]["failure"][1]
    assert f"{tables / 'refunds_b.yaml'}: lake.prefix: 's3://ddb-lake-demo/lake/exports/refunds/' is also used by " \
           f"{tables / 'refunds_a.yaml'}" in clash
    assert f"{tables / 'refunds_b.yaml'}: glue.table: " in clash
