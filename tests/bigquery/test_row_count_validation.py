"""Row count validation across every copy, against moto (DynamoDB, S3, Glue), the Athena stand-in and bqemulator.

Athena's count is real: the snapshot is registered in moto's Glue as the pipeline does (GlueSnapshotCatalogOperator),
and the Athena stand-in (scripts/athena_local.py) runs the validator's COUNT(*) on DuckDB over the Parquet files in
moto S3. DuckDB, run directly over the same files, checks that number independently.
"""

from __future__ import annotations

import os
import uuid

import boto3
import pytest
from bq_context import run_context
from bq_snapshots import LAKE_BUCKET, SNAPSHOT, put_snapshot
from duckdb_on_moto import duckdb_on_moto

from ddb_lake.compat import AirflowException
from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook
from ddb_lake.destinations.bigquery.load_operator import BigQueryLoadSnapshotOperator
from ddb_lake.destinations.bigquery.transfer_operator import SnapshotToGCSOperator
from ddb_lake.hooks.snapshot_counts import SnapshotCountsHook, athena_scalar
from ddb_lake.operators.glue_catalog import GlueSnapshotCatalogOperator
from ddb_lake.operators.row_count_validation import RowCountValidationOperator

pytestmark = pytest.mark.integration
ATHENA_DATABASE = "lake"


def duckdb_count(files: list[str]) -> int:
    """COUNT(*) over the Parquet files on moto S3, run by DuckDB through an fsspec filesystem."""
    listed = ", ".join(f"'{f}'" for f in files)
    with duckdb_on_moto(os.environ["DDB_LAKE_MOTO_URL"]) as con:
        return con.execute(f"SELECT COUNT(*) FROM read_parquet([{listed}])").fetchone()[0]


def register_in_glue(convert_summary: dict) -> None:
    """The lake task's catalog step: ``lake.orders_snapshots`` with this snapshot's partition."""
    GlueSnapshotCatalogOperator(
        task_id="catalog", convert_summary=convert_summary, database=ATHENA_DATABASE, table_name="orders",
        bucket=LAKE_BUCKET,
    ).execute({})


def glue_client():
    return boto3.client("glue", endpoint_url=os.environ["DDB_LAKE_MOTO_URL"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def dynamodb_table_with(items: int) -> None:
    import boto3

    ddb = boto3.resource(
        "dynamodb",
        endpoint_url=os.environ["DDB_LAKE_MOTO_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    table = ddb.create_table(
        TableName="orders",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "N"},
        ],
    )
    with table.batch_writer() as batch:
        for i in range(items):
            batch.put_item(Item={"PK": f"order#{i:05d}", "SK": i})


@pytest.fixture
def loaded(moto_reset, gcs_bucket, gcp_project, bigquery_emulator_host) -> dict:
    """A 75-row snapshot: on S3, in a DynamoDB table's export result, copied to GCS and loaded into BigQuery."""
    snap = put_snapshot()
    register_in_glue(snap.summary)
    dynamodb_table_with(75)
    xcoms = {
        "export": {
            "item_count": 75,
            "table_name": "orders",
            "export_arn": "arn:aws:dynamodb:us-east-1:1:table/orders/export/x",
        },
        "convert": snap.summary,
    }
    xcoms["transfer_to_gcs"] = SnapshotToGCSOperator(
        task_id="transfer_to_gcs", snapshot=snap.summary, gcs_bucket=gcs_bucket, gcs_prefix=f"orders/{SNAPSHOT}"
    ).execute(run_context())
    dataset = f"lake_{uuid.uuid4().hex[:8]}"
    BigQueryLoadHook(api_deadline=5.0).client(gcp_project).create_dataset(f"{gcp_project}.{dataset}")
    xcoms["load_bigquery"] = BigQueryLoadSnapshotOperator(
        task_id="load_bigquery",
        snapshot=snap.summary,
        transfer=xcoms["transfer_to_gcs"],
        project_id=gcp_project,
        dataset=dataset,
        table="orders",
        layout="sharded",
        api_deadline=5.0,
    ).execute(run_context())
    return xcoms


def validator(xcoms: dict, **kwargs) -> RowCountValidationOperator:
    """The validation task of a run whose export, convert and load tasks returned ``xcoms``."""
    kwargs.setdefault("key_columns", ["pk", "sk"])
    return RowCountValidationOperator(
        task_id="validate_counts",
        export=xcoms["export"],
        snapshot=xcoms["convert"],
        loads=[xcoms["load_bigquery"]],
        athena_database=ATHENA_DATABASE,
        athena_table="orders_snapshots",
        athena_output_location=f"s3://{LAKE_BUCKET}/athena/",
        api_deadline=5.0,
        **kwargs,
    )


def test_every_copy_agrees_on_a_good_snapshot(loaded, athena_url, capsys):
    expected = duckdb_count([f["path"] for f in loaded["convert"]["files"]])
    assert expected == 75
    capsys.readouterr()
    result = validator(loaded).execute(run_context())
    # DynamoDB, S3 and Athena hooks share one connection lookup: one "credentials retrieved" line per task
    assert capsys.readouterr().out.count("credentials retrieved") == 1
    assert result["ok"] is True and result["problems"] == []
    counts = {r["source"]: (r["count"], r["status"]) for r in result["rows"]}
    assert counts == {
        "dynamodb_export": (75, "ok"),
        "dynamodb_table_approx": (75, "info"),
        "parquet_footers": (75, "ok"),
        "athena": (75, "ok"),
        "bigquery": (75, "ok"),
    }
    assert result["key_checksum"]["ok"] and result["key_checksum"]["parquet"] == result["key_checksum"]["bigquery"]
    # The Athena query sent and run: the snapshot partition of the <table>_snapshots table, only its files read.
    athena = boto3.client(
        "athena",
        endpoint_url=athena_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    query_id = athena.list_query_executions()["QueryExecutionIds"][0]
    sent = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert (
        sent["Query"]
        == 'SELECT COUNT(*) AS row_count FROM "lake"."orders_snapshots" WHERE "snapshot" = \'20261122T000000Z\''
    )
    assert sent["QueryExecutionContext"]["Database"] == "lake"
    assert sent["Status"]["State"] == "SUCCEEDED"
    assert sent["Statistics"]["DataScannedInBytes"] == sum(f["bytes"] for f in loaded["convert"]["files"])
    assert result["athena_statistics"]["query_execution_id"] == query_id
    assert result["report_text"].splitlines()[-1].startswith("key checksum over (pk, sk)")
    assert "athena" in result["report_text"] and "MISMATCH" not in result["report_text"]
    assert result["athena_statistics"]["data_scanned_bytes"] == sent["Statistics"]["DataScannedInBytes"]


def test_a_retry_counts_afresh_in_athena(loaded, athena_url):
    """A reused ClientRequestToken returns the earlier execution: each try of the task must send its own."""
    first = validator(loaded).execute(run_context())["athena_statistics"]["query_execution_id"]
    same_try = validator(loaded).execute(run_context())["athena_statistics"]["query_execution_id"]
    retry_context = run_context()
    retry_context["ti"].try_number = 2
    retry = validator(loaded).execute(retry_context)["athena_statistics"]["query_execution_id"]
    assert first == same_try
    assert retry != first


def test_a_copy_short_by_one_row_fails_with_a_readable_report(loaded, gcp_project):
    load = loaded["load_bigquery"]
    hook = BigQueryLoadHook(api_deadline=5.0)
    hook.client(gcp_project).query(
        f"DELETE FROM `{load['dataset']}.{load['table_id']}` WHERE pk = 'order#00007'", retry=hook.retry, job_retry=None
    ).result()
    with pytest.raises(AirflowException) as failed:
        validator(loaded).execute(run_context())
    text = str(failed.value)
    assert "orders snapshot 20261122T000000Z is not published" in text
    lines = text.splitlines()
    bigquery_line = next(line for line in lines if line.strip().startswith("bigquery"))
    assert bigquery_line.split()[:4] == ["bigquery", "74", "-1", "MISMATCH"]
    assert next(line for line in lines if line.strip().startswith("athena")).split()[:4] == ["athena", "75", "+0", "ok"]
    assert "RESULT: bigquery has 74 (-1) vs dynamodb_export 75" in text
    assert "DIFFER" in text  # the key checksum names the missing key's effect too


def test_tolerance_lets_a_known_gap_through(loaded):
    # Athena's partition points at a copy one row short (a stale partition location): only Athena sees 74.
    short = put_snapshot(prefix="lake/stale/orders/snapshot=20261122T000000Z", parts=(40, 34))
    glue = glue_client()
    partition = glue.get_partition(DatabaseName=ATHENA_DATABASE, TableName="orders_snapshots",
                                   PartitionValues=["20261122T000000Z"])["Partition"]
    descriptor = {**partition["StorageDescriptor"], "Location": short.summary["snapshot_prefix"] + "/"}
    glue.update_partition(DatabaseName=ATHENA_DATABASE, TableName="orders_snapshots",
                          PartitionValueList=partition["Values"],
                          PartitionInput={"Values": partition["Values"], "StorageDescriptor": descriptor})
    with pytest.raises(AirflowException, match=r"athena has 74 \(-1\)"):
        validator(loaded, key_columns=None).execute(run_context())
    result = validator(loaded, key_columns=None, tolerance=1).execute(run_context())
    assert result["ok"] and result["tolerance"] == 1


def test_footer_rows_with_a_footer_bigger_than_the_first_range(moto_reset):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from bq_snapshots import s3_client

    wide = pa.table({f"column_{i:04d}_with_a_long_name": [i] for i in range(1500)})
    buf = io.BytesIO()
    pq.write_table(wide, buf)
    s3 = s3_client()
    s3.create_bucket(Bucket=LAKE_BUCKET)
    s3.put_object(Bucket=LAKE_BUCKET, Key="wide.parquet", Body=buf.getvalue())
    assert pq.read_metadata(io.BytesIO(buf.getvalue())).serialized_size > 64 * 1024
    assert SnapshotCountsHook().parquet_footer_rows(f"s3://{LAKE_BUCKET}/wide.parquet") == 1


def test_athena_answer_parsing():
    assert athena_scalar([{"Data": [{"VarCharValue": "row_count"}]}, {"Data": [{"VarCharValue": "12"}]}], "q") == 12
    with pytest.raises(AirflowException, match="expected a header and one number"):
        athena_scalar([{"Data": [{"VarCharValue": "row_count"}]}], "q")
    with pytest.raises(AirflowException, match="not a row count"):
        athena_scalar([{"Data": [{"VarCharValue": "c"}]}, {"Data": [{"VarCharValue": "x"}]}], "q")


def test_validation_templated_fields_render():
    from jinja2 import Environment

    op = RowCountValidationOperator(
        task_id="v", export={}, snapshot={}, athena_database="{{ params.db }}", tolerance="{{ params.tol }}"
    )
    op.render_template_fields({"params": {"db": "lake_prod", "tol": 0}}, jinja_env=Environment())
    assert op.athena_database == "lake_prod"
