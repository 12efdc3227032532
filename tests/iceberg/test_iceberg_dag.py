"""The ``lake.format: iceberg`` DAG end to end with ``airflow dags test`` on the local stack (moto).

Run 1 bootstraps the Iceberg table from a real moto full export (state → export → convert → merge → validate →
report) and the table equals a scan of the DynamoDB table. Run 2 (the next hour) asks for an incremental export;
moto answers it with full items, not changes, and the merge refuses them terminally: the table and its watermark
stay as they were. The merge of real incremental exports is proven by test_iceberg_table_runs.py.
"""

from __future__ import annotations

import sys
from itertools import pairwise
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import seed_demo  # noqa: E402
from airflow_runs import airflow_env, dags_test, run_states, table_file  # noqa: E402
from item_compare import iceberg_items, set_attributes_of, sorted_items  # noqa: E402

from ddb_lake.core.config.table_config import load_table_config  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DAG_ID = "ddb_lake__ice_orders__incremental"
HOUR_END = "2026-11-22T05:00:00+00:00"
NEXT_HOUR_END = "2026-11-22T06:00:00+00:00"


def test_iceberg_dag_bootstraps_then_refuses_full_items_as_changes(moto_reset, tmp_path):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from ddb_lake.dag_factory.table_dag import build_table_dags
    from ddb_lake.hooks import iceberg_merge as engine
    from ddb_lake.hooks.iceberg_catalog import IcebergCatalogHook

    path = table_file(tmp_path / "tables", "ice_orders", export={"mode": "incremental"}, bigquery=None,
                      lake={"bucket": "ice-orders", "prefix": "lake", "format": "iceberg"})
    config = load_table_config(path)
    dag = build_table_dags(tmp_path / "tables")[DAG_ID]
    assert sorted(dag.task_ids) == ["compact", "convert", "expire", "export", "full_check_export", "lifecycle",
                                    "merge", "plan", "remove_orphans", "report", "state", "validate"]
    assert {"state"} == dag.get_task("full_check_export").upstream_task_ids
    assert "full_check_export" in dag.get_task("validate").upstream_task_ids
    for before, after in (("validate", "compact"), ("compact", "expire"), ("expire", "remove_orphans")):
        assert before in dag.get_task(after).upstream_task_ids, (before, after)
    chain = ["plan", "state", "export", "convert", "merge", "validate", "report"]
    for before, after in pairwise(chain):
        assert before in dag.get_task(after).upstream_task_ids, (before, after)
    env = airflow_env(tmp_path, tmp_path / "tables")
    seed_demo.seed_aws(config, 60)

    log = dags_test(env, DAG_ID, HOUR_END, tmp_path / "dags-test.log")
    assert [state for _, state in run_states(env, DAG_ID)] == ["success"], log[-4000:]
    table = IcebergCatalogHook(aws_conn_id="aws_default", region_name="us-east-1").load_table(
        config.glue.database, "ice_orders")
    dynamodb = AwsBaseHook(aws_conn_id="aws_default", client_type="dynamodb", region_name="us-east-1").conn
    scanned = dynamodb.scan(TableName=config.dynamodb.table_name)["Items"]
    assert len(scanned) == 60
    assert iceberg_items(table, engine.stored_schema(table), set_attributes_of(scanned)) == sorted_items(scanned)
    assert table.location() == "s3://ice-orders/lake/iceberg/ice_orders"
    s3 = AwsBaseHook(aws_conn_id="aws_default", client_type="s3", region_name="us-east-1").conn
    rules = s3.get_bucket_lifecycle_configuration(Bucket="ice-orders")["Rules"]
    assert "ddb-lake-ice_orders-raw-exports" in [r["ID"] for r in rules]
    first = table.current_snapshot().snapshot_id

    log = dags_test(env, DAG_ID, NEXT_HOUR_END, tmp_path / "dags-test-2.log")
    assert [state for _, state in run_states(env, DAG_ID)] == ["success", "failed"]
    assert "its lines are full items" in log and "terminal" in log
    table.refresh()
    assert table.current_snapshot().snapshot_id == first
