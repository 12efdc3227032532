"""The conversion reads and writes through the connection's own S3 client (refreshing credentials, endpoint, botocore
config), in the task's process and, as a recipe taken from that client, in the converter's worker processes."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.lake.layout import TableLayout, utc_stamp
from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
from ddb_lake.operators.export_to_parquet import ExportToParquetOperator

pytestmark = pytest.mark.integration

USER_AGENT_MARK = "ddb-lake-conn-test"


@pytest.fixture
def configured_connection(aws, moto_reset, monkeypatch) -> str:
    """``aws_lake_configured``: moto as the endpoint and a botocore config (user agent mark, retries) in its extra."""
    extra = {
        "endpoint_url": moto_reset,
        "region_name": "us-east-1",
        "config_kwargs": {"user_agent_extra": USER_AGENT_MARK, "retries": {"max_attempts": 4, "mode": "standard"}},
    }
    connection = {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_LAKE_CONFIGURED", json.dumps(connection))
    return "aws_lake_configured"


def test_the_operator_converts_through_the_hooks_client(aws, dag, context_for, configured_connection, moto_reset):
    pitr_time = aws.create_table("orders", items=[{"pk": {"S": f"k{i}"}, "n": {"N": str(i)}} for i in range(3)])
    layout = TableLayout("lake", "mirror", "orders")
    export = DynamoDBExportOperator(
        task_id="export", table_name="orders", s3_bucket="lake",
        s3_prefix=layout.export_prefix("FULL_EXPORT", pitr_time), waiter_delay=1,
    )
    context = context_for(dag, export, pitr_time - timedelta(days=1), pitr_time)
    export_result = export.execute(context)
    convert = ExportToParquetOperator(
        task_id="convert", export=export_result, aws_conn_id=configured_connection,
        dest_url=layout.url(layout.snapshot_prefix(pitr_time)), snapshot=utc_stamp(pitr_time),
    )
    client = convert.hook.conn
    sent: list[tuple[str, str]] = []

    def record(request, event_name: str, **_) -> None:
        sent.append((event_name.rsplit(".", 1)[-1], request.headers["User-Agent"].decode()))

    client.meta.events.register("before-send.s3", record)  # observes this very client object
    summary = convert.execute(context)

    assert summary["items"] == 3
    assert client.meta.endpoint_url == moto_reset
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    operations = {operation for operation, _ in sent}
    assert {"GetObject", "ListObjectsV2", "PutObject"} <= operations  # reads the export, writes the snapshot
    assert all(USER_AGENT_MARK in agent for _, agent in sent)
    manifest_key = layout.snapshot_prefix(pitr_time) + "/_manifest.json"
    assert json.loads(aws.s3.get_object(Bucket="lake", Key=manifest_key)["Body"].read())["items"] == 3


def test_worker_processes_read_through_a_recipe_of_the_ready_client(aws, tmp_path, moto_reset):
    files = [[item_line({"pk": {"S": f"f{f}-{i}"}, "n": {"N": str(i)}}) for i in range(50)] for f in range(3)]
    source = write_export(tmp_path / "AWSDynamoDB" / "01700000000000-workers0", files)
    for path in source.rglob("*"):
        if path.is_file():
            aws.s3.upload_file(str(path), "lake", f"exp/AWSDynamoDB/{source.name}/{path.relative_to(source)}")
    # The only way the worker processes can reach moto is the recipe: no endpoint in their environment.
    client = boto3.client(
        "s3", endpoint_url=moto_reset, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    summary = convert_export(
        f"s3://lake/exp/AWSDynamoDB/{source.name}/", "s3://lake/snapshots/t/snapshot=1", s3_client=client, workers=2,
    )
    assert summary["items"] == 150 and summary["source_files"] == 3
    assert summary["verified"]["manifest"] is True
    keys = aws.keys("lake", "snapshots/t/snapshot=1/")
    parts = [f["path"].removeprefix("s3://lake/") for f in summary["files"]]
    assert len(parts) == 3 and keys == ["snapshots/t/snapshot=1/_manifest.json", *sorted(parts)]
