"""End to end on the local stack: a table without PITR, ``export.mode: scan`` with 4 segments read by 2 mapped tasks,
through the whole full-mode DAG (scan → convert → catalog → Athena → validate → publish → report), values exact."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from airflow_runs import airflow_env, dags_test, run_states, table_file

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "aws_export"))

from scan_tables import create_table_without_pitr, parquet_items, sets_of, sorted_items, table_items  # noqa: E402

from ddb_lake.core.config.table_config import load_table_config  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DAG_ID = "ddb_lake__scan_orders"
ITEMS = 150  # every DynamoDB type appears in these (item 0 carries every optional attribute)
SCAN = {"segments": 4, "segment_groups": 2, "page_items": 50, "file_items": 50, "target_read_units_per_second": 1000}


def test_scan_mode_dag_exports_converts_validates_and_reports(local_stack_state, tmp_path):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    path = table_file(tmp_path / "tables", "scan_orders", export={"mode": "scan", "scan": SCAN}, bigquery=None)
    config = load_table_config(path)
    env = airflow_env(tmp_path, tmp_path / "tables")
    dynamodb = AwsBaseHook(aws_conn_id="aws_default", client_type="dynamodb", region_name="us-east-1").conn
    s3 = AwsBaseHook(aws_conn_id="aws_default", client_type="s3", region_name="us-east-1").conn
    create_table_without_pitr(dynamodb, config.dynamodb.table_name, ITEMS)
    s3.create_bucket(Bucket=config.lake.bucket)
    backups = dynamodb.describe_continuous_backups(TableName=config.dynamodb.table_name)
    assert backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
        "PointInTimeRecoveryStatus"] == "DISABLED"

    log = dags_test(env, DAG_ID, "2026-11-22", tmp_path / "dags-test.log")
    states = run_states(env, DAG_ID)
    assert [state for _, state in states] == ["success"], log[-5000:]
    # two mapped tasks read segments 0, 2 and 1, 3; the export task after them reads nothing and writes the manifests
    assert "segments 0, 2 of 4" in log and "segments 1, 3 of 4" in log and "segments 0-3 of 4" in log
    assert all(f"Segment {n}/4 of scan-orders already done" in log for n in range(4))
    assert "scan: NOT point-in-time" in log and "read units (scan)" in log  # the run report

    glue = AwsBaseHook(aws_conn_id="aws_default", client_type="glue", region_name="us-east-1").conn
    current = glue.get_table(DatabaseName=config.glue.database, Name="scan_orders")["Table"]
    location = current["StorageDescriptor"]["Location"]
    key = location.removeprefix(f"s3://{config.lake.bucket}/").rstrip("/") + "/_manifest.json"
    summary = json.loads(s3.get_object(Bucket=config.lake.bucket, Key=key)["Body"].read())
    assert summary["items"] == ITEMS
    source = table_items(dynamodb, config.dynamodb.table_name)
    assert parquet_items(s3, config.lake.bucket, summary, sets_of(source)) == sorted_items(source)
