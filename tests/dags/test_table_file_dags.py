"""One DAG file per table file: a bad table file is an Airflow import error of its own DAG file only (naming the
YAML file and the field), the other tables' DAG files keep their DAGs. Probed with a DagBag in a fresh interpreter."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

STUB = '''"""Airflow DAG(s) of one ddb-lake table file."""
from pathlib import Path
from ddb_lake.dag_factory.table_dag import table_file_dags
globals().update(table_file_dags("{name}", Path(__file__).resolve().parent))
'''

PROBE = r"""
import json, sys
from airflow.models import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print("PROBE:" + json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                             "dags": {d: [dag.fileloc] for d, dag in bag.dags.items()}}))
"""


def test_a_bad_table_file_is_one_import_error_and_the_other_tables_load(tmp_path):
    dags, tables = tmp_path / "dags", tmp_path / "dags" / "tables"
    tables.mkdir(parents=True)
    for name in ("orders", "customers"):
        shutil.copy(REPO_ROOT / "include" / "tables" / f"{name}.yaml", tables / f"{name}.yaml")
    orders = yaml.safe_load((tables / "orders.yaml").read_text())
    (tables / "payments.yaml").write_text(yaml.safe_dump({**orders, "name": "payments", "schedule": "@dayly",
                                                          "dynamodb": {"table_name": "demo-payments"}}))
    for name in ("orders", "customers", "payments"):
        (dags / f"ddb_lake__{name}.py").write_text(STUB.format(name=f"{name}.yaml"))
    (dags / "ddb_lake__gone.py").write_text(STUB.format(name="gone.yaml"))
    env = {"PATH": str(Path(sys.executable).parent), "AIRFLOW_HOME": str(tmp_path), "HOME": str(tmp_path),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PYTHONPATH": str(REPO_ROOT / "plugins")}

    result = subprocess.run([sys.executable, "-c", PROBE, str(dags)], capture_output=True, text=True, env=env,
                            timeout=300, check=False)

    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE:")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(lines[0][len("PROBE:"):])
    assert set(report["errors"]) == {str(dags / "ddb_lake__payments.py"), str(dags / "ddb_lake__gone.py")}
    assert report["errors"][str(dags / "ddb_lake__payments.py")].rstrip().endswith(
        f"TableConfigError: {tables / 'payments.yaml'}: schedule: '@dayly' is not a cron expression or one of "
        "@hourly, @daily, @weekly, @monthly, @quarterly, @yearly")
    assert f"{tables / 'gone.yaml'}: <file>: no such table file" in report["errors"][str(dags / "ddb_lake__gone.py")]
    assert report["dags"] == {
        "ddb_lake__orders": [str(dags / "ddb_lake__orders.py")],
        "ddb_lake__customers": [str(dags / "ddb_lake__customers.py")],
        "ddb_lake__customers__incremental": [str(dags / "ddb_lake__customers.py")],
    }
