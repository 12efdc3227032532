"""Every local stand-in answers through the Airflow hooks over HTTP, using only the connections local_stack wrote."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.integration

# google-cloud-* clients retry a 500 for 600 s by default; an emulator gap must fail a test in seconds instead.
GOOGLE_DEADLINE_S = 15.0


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _bq_retry():
    from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY

    return DEFAULT_RETRY.with_deadline(GOOGLE_DEADLINE_S), DEFAULT_JOB_RETRY.with_deadline(GOOGLE_DEADLINE_S)


def test_dynamodb_hook_creates_table_puts_and_gets_item(local_stack_state):
    from airflow.providers.amazon.aws.hooks.dynamodb import DynamoDBHook

    table_name = _unique("stack-ddb")
    hook = DynamoDBHook(aws_conn_id="aws_default", table_name=table_name, table_keys=["pk"])
    hook.client.create_table(
        TableName=table_name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    exact = Decimal("12345678901234567890.123456789012345678")
    hook.put_item(table_name, {"pk": "a", "amount": exact, "tags": {"x", "y"}})

    assert hook.get_item(table_name, {"pk": "a"}) == {"pk": "a", "amount": exact, "tags": {"x", "y"}}
    assert hook.get_item(table_name, {"pk": "missing"}) is None
    assert hook.client.meta.endpoint_url == local_stack_state.services["moto"]["url"]


def test_s3_hook_creates_bucket_writes_and_reads_key(local_stack_state):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket = _unique("stack-s3")
    hook = S3Hook(aws_conn_id="aws_default")
    hook.create_bucket(bucket_name=bucket)
    hook.load_string("hello lake", key="a/b.txt", bucket_name=bucket)

    assert hook.read_key("a/b.txt", bucket_name=bucket) == "hello lake"
    assert hook.list_keys(bucket_name=bucket, prefix="a/") == ["a/b.txt"]
    assert hook.conn.meta.endpoint_url == local_stack_state.services["moto"]["url"]


def test_glue_catalog_hook_reads_back_table_created_through_its_client(local_stack_state):
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    database = _unique("stack_db").replace("-", "_")
    hook = GlueCatalogHook(aws_conn_id="aws_default")
    hook.conn.create_database(DatabaseInput={"Name": database})
    hook.conn.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "items",
            "PartitionKeys": [{"Name": "snapshot", "Type": "string"}],
            "StorageDescriptor": {
                "Columns": [{"Name": "pk", "Type": "string"}, {"Name": "amount", "Type": "decimal(38,9)"}],
                "Location": "s3://lake/snapshots/items/",
            },
        },
    )

    table = hook.get_table(database, "items")
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["pk", "amount"]
    assert hook.get_table_location(database, "items") == "s3://lake/snapshots/items/"


def test_athena_hook_counts_parquet_rows_of_a_glue_table(local_stack_state, athena_url):
    """Athena goes to the stand-in (service_config), which counts the Parquet rows of a Glue table on moto S3."""
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket = _unique("stack-athena")
    database = _unique("stack_athena_db").replace("-", "_")
    s3 = S3Hook(aws_conn_id="aws_default")
    s3.create_bucket(bucket_name=bucket)
    buffer = io.BytesIO()
    pq.write_table(pa.table({"pk": [f"k{i}" for i in range(42)]}), buffer)
    s3.load_bytes(buffer.getvalue(), key="items/part-0.parquet", bucket_name=bucket)
    glue = GlueCatalogHook(aws_conn_id="aws_default").conn
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(DatabaseName=database, TableInput={
        "Name": "items",
        "StorageDescriptor": {"Columns": [{"Name": "pk", "Type": "string"}], "Location": f"s3://{bucket}/items/"},
    })

    hook = AthenaHook(aws_conn_id="aws_default")
    query_id = hook.run_query(
        "SELECT count(*) AS n FROM items",
        query_context={"Database": database},
        result_configuration={"OutputLocation": f"s3://{bucket}/athena-results/"},
    )
    assert hook.poll_query_status(query_id, max_polling_attempts=50, sleep_time=0.1) == "SUCCEEDED"
    rows = hook.get_query_results(query_id)["ResultSet"]["Rows"]
    assert [[cell["VarCharValue"] for cell in row["Data"]] for row in rows] == [["n"], ["42"]]
    assert hook.conn.meta.endpoint_url == athena_url
    assert s3.read_key(f"athena-results/{query_id}.csv", bucket_name=bucket) == '"n"\n"42"\n'


def test_gcs_hook_creates_bucket_uploads_and_downloads(gcs_emulator_host, gcs_object_root, gcp_project):
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    bucket = _unique("stack-gcs")
    hook = GCSHook(gcp_conn_id="google_cloud_default")
    hook.create_bucket(bucket_name=bucket, project_id=gcp_project)
    hook.upload(bucket, "in/data.json", data=b'{"pk": "a"}\n')

    assert hook.download(bucket, "in/data.json") == b'{"pk": "a"}\n'
    assert hook.exists(bucket, "in/data.json")
    assert hook.list(bucket, prefix="in/") == ["in/data.json"]
    # Disk mode: the object is a plain file, which is what bqemulator's gs:// loads read.
    assert (gcs_object_root / bucket / "in" / "data.json").read_bytes() == b'{"pk": "a"}\n'
    assert hook.get_conn()._connection.API_BASE_URL == gcs_emulator_host


def test_bigquery_hook_creates_table_inserts_and_counts(bigquery_emulator_host, gcp_project):
    from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

    retry, job_retry = _bq_retry()
    dataset = _unique("stack_bq").replace("-", "_")
    hook = BigQueryHook(gcp_conn_id="google_cloud_default", use_legacy_sql=False)
    hook.create_empty_dataset(dataset_id=dataset, project_id=gcp_project)
    hook.create_table(
        dataset_id=dataset,
        table_id="items",
        table_resource={},
        project_id=gcp_project,
        schema_fields=[
            {"name": "pk", "type": "STRING", "mode": "REQUIRED"},
            {"name": "amount", "type": "NUMERIC", "mode": "NULLABLE"},
        ],
        retry=retry,
    )
    client = hook.get_client(project_id=gcp_project)
    assert client._connection.API_BASE_URL == bigquery_emulator_host
    errors = client.insert_rows_json(
        f"{gcp_project}.{dataset}.items",
        [{"pk": "a", "amount": "1.5"}, {"pk": "b", "amount": "2.25"}],
        retry=retry,
    )
    assert errors == []

    sql = f"SELECT COUNT(*) AS n, SUM(amount) AS total FROM `{gcp_project}.{dataset}.items`"
    rows = list(client.query(sql, retry=retry, job_retry=job_retry).result(timeout=GOOGLE_DEADLINE_S))
    assert (rows[0]["n"], rows[0]["total"]) == (2, Decimal("3.75"))


def test_bigquery_loads_parquet_that_gcs_hook_uploaded(gcs_emulator_host, bigquery_emulator_host, gcp_project):
    from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook
    from airflow.providers.google.cloud.hooks.gcs import GCSHook
    from google.cloud import bigquery

    retry, job_retry = _bq_retry()
    bucket = _unique("stack-load")
    buffer = io.BytesIO()
    pq.write_table(pa.table({"pk": ["a", "b", "c"], "n": pa.array([1, 2, 3], pa.int64())}), buffer)
    gcs = GCSHook(gcp_conn_id="google_cloud_default")
    gcs.create_bucket(bucket_name=bucket, project_id=gcp_project)
    gcs.upload(bucket, "snap/part-0.parquet", data=buffer.getvalue())

    dataset = _unique("stack_load").replace("-", "_")
    hook = BigQueryHook(gcp_conn_id="google_cloud_default", use_legacy_sql=False)
    hook.create_empty_dataset(dataset_id=dataset, project_id=gcp_project)
    table_id = f"{gcp_project}.{dataset}.items"
    hook.create_table(
        dataset_id=dataset,
        table_id="items",
        table_resource={},
        project_id=gcp_project,
        schema_fields=[{"name": "pk", "type": "STRING"}, {"name": "n", "type": "INTEGER"}],
        retry=retry,
    )
    client = hook.get_client(project_id=gcp_project)
    job = client.load_table_from_uri(
        f"gs://{bucket}/snap/*.parquet",
        table_id,
        job_config=bigquery.LoadJobConfig(source_format="PARQUET", write_disposition="WRITE_TRUNCATE"),
        retry=retry,
    )
    job.result(timeout=GOOGLE_DEADLINE_S)
    rows = list(client.query(f"SELECT SUM(n) AS s FROM `{table_id}`", job_retry=job_retry).result())
    assert rows[0]["s"] == 6
