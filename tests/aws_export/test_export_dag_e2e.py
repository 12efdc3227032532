"""End to end through Airflow itself: ``airflow dags test`` runs a deferrable export (its trigger inline) and the
conversion, passing the export's XCom to the convert task, against moto server."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from airflow_runs import airflow_env

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

AIRFLOW = str(Path(sys.executable).parent / "airflow")

# Airflow's safe-mode DAG discovery only parses files that mention both "airflow" and "dag".
DAG_FILE = '''
# An airflow DAG file written by the test.
from datetime import datetime, timezone

from ddb_lake.compat import DAG
from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
from ddb_lake.operators.export_to_parquet import ExportToParquetOperator

with DAG("ddb_lake_export_e2e", schedule="@daily", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
         catchup=False):
    export = DynamoDBExportOperator(
        task_id="export", table_name="orders", s3_bucket="lake", s3_prefix="{export_prefix}",
        export_time="{export_time}", deferrable=True, waiter_delay=1, waiter_max_attempts=30,
    )
    ExportToParquetOperator(task_id="convert", export=export.output, dest_url="{dest_url}", snapshot="{snapshot}")
'''


def airflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=240)


def test_dags_test_runs_export_and_convert(aws, tmp_path):
    pitr_time = aws.create_table("orders", items=[{"pk": {"S": f"k{i}"}, "n": {"N": str(i)}} for i in range(7)])
    dags = tmp_path / "dags"
    dags.mkdir()
    from ddb_lake.core.lake.layout import TableLayout, utc_stamp

    layout = TableLayout("lake", "mirror", "orders")  # what the run plan names for this export time
    planned = {
        "{export_time}": pitr_time.isoformat(),
        "{export_prefix}": layout.export_prefix("FULL_EXPORT", pitr_time),
        "{dest_url}": layout.url(layout.snapshot_prefix(pitr_time)),
        "{snapshot}": utc_stamp(pitr_time),
    }
    dag_text = textwrap.dedent(DAG_FILE)
    for placeholder, value in planned.items():
        dag_text = dag_text.replace(placeholder, value)
    (dags / "export_e2e.py").write_text(dag_text)
    env = airflow_env(tmp_path, tmp_path / "tables")  # a copy of the session's migrated database
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)

    run = airflow(["dags", "test", "ddb_lake_export_e2e", "2026-11-21"], env)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    print(output)  # shows the deferral and the trigger's run when moto had not finished at the start call

    snapshot_key = TableLayout("lake", "mirror", "orders").snapshot_prefix(pitr_time)
    manifest = json.loads(aws.s3.get_object(Bucket="lake", Key=f"{snapshot_key}/_manifest.json")["Body"].read())
    assert manifest["items"] == 7
    assert any(key.endswith(".parquet") for key in aws.keys("lake", snapshot_key))
    assert len(aws.export_arns("orders")) == 1
