"""An empty DynamoDB table through every task: export, convert, Glue catalog, Athena, BigQuery load, validation.

moto holds the table (no item; key ``Order-Id`` S + ``seq`` N from DescribeTable), the Athena stand-in runs the
validator's COUNT(*) on DuckDB over the snapshot's Parquet in moto S3, bqemulator takes the load.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from bq_context import run_context

from ddb_lake.compat import DAG
from ddb_lake.core.lake.layout import TableLayout, utc_stamp
from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook
from ddb_lake.destinations.bigquery.load_operator import BigQueryLoadSnapshotOperator
from ddb_lake.destinations.bigquery.transfer_operator import SnapshotToGCSOperator
from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
from ddb_lake.operators.export_to_parquet import ExportToParquetOperator
from ddb_lake.operators.glue_catalog import GlueSnapshotCatalogOperator
from ddb_lake.operators.row_count_validation import RowCountValidationOperator

pytestmark = pytest.mark.integration
LAYOUT = TableLayout("lake", "mirror", "orders")
DATABASE = "lake"


def client(service: str):
    return boto3.client(service, endpoint_url=os.environ["DDB_LAKE_MOTO_URL"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def empty_table() -> datetime:
    ddb = client("dynamodb")
    ddb.create_table(
        TableName="orders", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "Order-Id", "KeyType": "HASH"}, {"AttributeName": "seq", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "Order-Id", "AttributeType": "S"},
                              {"AttributeName": "seq", "AttributeType": "N"}],
    )
    ddb.update_continuous_backups(TableName="orders",
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    window = ddb.describe_continuous_backups(TableName="orders")["ContinuousBackupsDescription"]
    return window["PointInTimeRecoveryDescription"]["EarliestRestorableDateTime"].astimezone(UTC)


def test_an_empty_table_is_cataloged_counted_loaded_and_validated(
        moto_reset, athena_url, gcs_bucket, gcp_project, bigquery_emulator_host):
    client("s3").create_bucket(Bucket="lake")
    pitr_time = empty_table()
    dag = DAG("ddb_lake_orders", schedule="@daily", start_date=datetime(2026, 1, 1, tzinfo=UTC))
    export = DynamoDBExportOperator(task_id="export", dag=dag, table_name="orders", s3_bucket="lake",
                                    s3_prefix=LAYOUT.export_prefix("FULL_EXPORT", pitr_time), waiter_delay=1)
    context = {**run_context(pitr_time), "dag": dag, "data_interval_start": pitr_time - timedelta(days=1)}
    xcoms = {"export": export.execute(context)}
    stamp = utc_stamp(pitr_time)
    xcoms["convert"] = ExportToParquetOperator(
        task_id="convert", export=xcoms["export"], dest_url=LAYOUT.url(LAYOUT.snapshot_prefix(pitr_time)),
        snapshot=stamp,
    ).execute(context)
    assert [(f["name"], f["type"]["kind"]) for f in xcoms["convert"]["schema"]["fields"]] == [
        ("order_id", "string"), ("seq", "decimal_text")]

    GlueSnapshotCatalogOperator(task_id="catalog", convert_summary=xcoms["convert"], database=DATABASE,
                                table_name="orders", bucket="lake").execute({})
    columns = client("glue").get_table(DatabaseName=DATABASE, Name="orders_snapshots")["Table"]["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in columns["Columns"]] == [("order_id", "string"), ("seq", "string")]

    xcoms["transfer"] = SnapshotToGCSOperator(
        task_id="transfer_to_gcs", snapshot=xcoms["convert"], gcs_bucket=gcs_bucket, gcs_prefix=f"orders/{stamp}",
    ).execute(run_context(pitr_time))
    dataset = f"lake_{uuid.uuid4().hex[:8]}"
    hook = BigQueryLoadHook(api_deadline=5.0)
    hook.client(gcp_project).create_dataset(f"{gcp_project}.{dataset}")
    xcoms["load"] = BigQueryLoadSnapshotOperator(
        task_id="load_bigquery", snapshot=xcoms["convert"], transfer=xcoms["transfer"], project_id=gcp_project,
        dataset=dataset, table="orders", layout="sharded", api_deadline=5.0,
    ).execute(run_context(pitr_time))
    loaded = hook.client(gcp_project).get_table(f"{gcp_project}.{dataset}.{xcoms['load']['table_id']}")
    assert [(f.name, f.field_type) for f in loaded.schema] == [("order_id", "STRING"), ("seq", "STRING")]

    result = RowCountValidationOperator(
        task_id="validate_counts", export=xcoms["export"], snapshot=xcoms["convert"], loads=[xcoms["load"]],
        athena_database=DATABASE, athena_table="orders_snapshots", athena_output_location="s3://lake/athena/",
        key_columns=["order_id", "seq"], api_deadline=5.0,
    ).execute(run_context(pitr_time))
    counts = {r["source"]: (r["count"], r["status"]) for r in result["rows"]}
    assert counts == {"dynamodb_export": (0, "ok"), "dynamodb_table_approx": (0, "info"),
                      "parquet_footers": (0, "ok"), "athena": (0, "ok"), "bigquery": (0, "ok")}
    assert result["ok"] is True and result["key_checksum"]["ok"] is True
    assert result["key_checksum"]["parquet"] == result["key_checksum"]["bigquery"] == 0
