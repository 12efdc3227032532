"""ExportToParquetOperator end to end on moto server: export a table, convert it, read the Parquet back from S3."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import s3fs

from ddb_lake.compat import AirflowFailException
from ddb_lake.core.lake.layout import TableLayout, utc_stamp
from ddb_lake.hooks.lake_storage import LakeStorageHook
from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
from ddb_lake.operators.export_to_parquet import ExportToParquetOperator

pytestmark = pytest.mark.integration

BIG_NUMBER = "12345678901234567890.123456789012"  # 32 significant digits: float64 would lose them


def item(i: int) -> dict:
    return {
        "pk": {"S": f"order-{i}"},
        "amount": {"N": BIG_NUMBER if i == 0 else f"{i}.5"},
        "paid": {"BOOL": i % 2 == 0},
        "lines": {"L": [{"M": {"sku": {"S": f"sku-{i}"}, "qty": {"N": str(i + 1)}}}]},
        "blob": {"B": f"bytes-{i}".encode()},  # boto3 base64-encodes it on the wire
    }


LAYOUT = TableLayout("lake", "mirror", "orders")


def planned(export_time) -> dict:
    """What the run plan hands the convert task for a full export at ``export_time``."""
    return {"dest_url": LAYOUT.url(LAYOUT.snapshot_prefix(export_time)), "snapshot": utc_stamp(export_time)}


def export_then_convert(aws, dag, context_for, **convert_kwargs):
    pitr_time = aws.create_table("orders", items=[item(i) for i in range(4)])
    export = DynamoDBExportOperator(
        task_id="export", table_name="orders", s3_bucket="lake",
        s3_prefix=LAYOUT.export_prefix("FULL_EXPORT", pitr_time), waiter_delay=1,
    )
    context = context_for(dag, export, pitr_time - timedelta(days=1), pitr_time)
    export_result = export.execute(context)
    convert_kwargs = {**planned(pitr_time), **convert_kwargs}
    convert = ExportToParquetOperator(task_id="convert", export=export_result, **convert_kwargs)
    return pitr_time, export_result, convert.execute(context)


def read_snapshot(snapshot_url: str) -> list[dict]:
    fs = s3fs.S3FileSystem(**LakeStorageHook().storage_options(), skip_instance_cache=True)
    keys = sorted(k for k in fs.find(snapshot_url.removeprefix("s3://")) if k.endswith(".parquet"))
    assert keys, f"no Parquet under {snapshot_url}"
    rows = []
    for key in keys:
        with fs.open(key, "rb") as handle:
            rows.extend(pq.read_table(handle).to_pylist())
    return sorted(rows, key=lambda row: row["pk"])


def test_export_converts_to_parquet_in_the_snapshot_prefix(aws, dag, context_for, caplog, capsys):
    pitr_time, export_result, summary = export_then_convert(aws, dag, context_for)

    expected_key = TableLayout("lake", "mirror", "orders").snapshot_prefix(pitr_time)
    assert summary["snapshot_prefix"] == f"s3://lake/{expected_key}"
    assert summary["snapshot"] == utc_stamp(pitr_time)
    assert summary["items"] == 4 == export_result["item_count"]
    assert sum(f["rows"] for f in summary["files"]) == 4
    schema_fields = {f["name"] for f in summary["schema"]["fields"]}
    assert {"pk", "amount", "paid", "lines", "blob"} <= schema_fields

    rows = read_snapshot(summary["snapshot_prefix"])
    assert [row["pk"] for row in rows] == ["order-0", "order-1", "order-2", "order-3"]
    assert Decimal(str(rows[0]["amount"])) == Decimal(BIG_NUMBER)  # exact, not via float
    assert [row["paid"] for row in rows] == [True, False, True, False]
    assert rows[2]["blob"] == b"bytes-2"
    assert rows[3]["lines"][0]["sku"] == "sku-3"

    manifest = json.loads(aws.s3.get_object(Bucket="lake", Key=f"{expected_key}/_manifest.json")["Body"].read())
    assert manifest["items"] == 4
    sinks = [caplog.text, capsys.readouterr().out]  # Airflow 2's task logger also has a console handler (stdout)
    assert any("convert progress: parsed 4 items" in text for text in sinks)  # the progress reaches the task log
    # once per log: through the operator's log, not twice
    assert max(text.count("parsed 4 items from 1 files") for text in sinks) == 1


def test_rerun_rewrites_the_same_snapshot(aws, dag, context_for):
    pitr_time, export_result, first = export_then_convert(aws, dag, context_for)
    again = ExportToParquetOperator(task_id="convert", export=export_result, **planned(pitr_time)).execute({})
    assert again["snapshot_prefix"] == first["snapshot_prefix"]
    assert len(read_snapshot(again["snapshot_prefix"])) == 4


def test_rerun_deletes_its_own_stale_part_and_leaves_sibling_snapshots_and_other_objects(aws, dag, context_for):
    aws.s3.put_object(Bucket="lake", Key="mirror/snapshots/orders/snapshot=20200101T000000Z/part-00000.parquet",
                      Body=b"an older snapshot")
    aws.s3.put_object(Bucket="lake", Key="unrelated.txt", Body=b"not ours")
    pitr_time, export_result, first = export_then_convert(aws, dag, context_for)
    prefix = first["snapshot_prefix"].removeprefix("s3://lake/")
    # As an earlier conversion split into two parts leaves it (the split depends on the worker count).
    stale = {"path": f"{first['snapshot_prefix']}/part-00001.parquet", "rows": 0, "bytes": 3}
    aws.s3.put_object(Bucket="lake", Key=f"{prefix}/part-00001.parquet", Body=b"old")
    manifest = {**first, "files": [*first["files"], stale]}
    aws.s3.put_object(Bucket="lake", Key=f"{prefix}/_manifest.json", Body=json.dumps(manifest).encode())
    again = ExportToParquetOperator(task_id="convert", export=export_result, **planned(pitr_time)).execute({})
    (part,) = [f["path"].removeprefix("s3://lake/") for f in again["files"]]  # a new name: the old parts are stale
    assert aws.keys("lake", prefix + "/") == [f"{prefix}/_manifest.json", part]
    assert [f["rows"] for f in again["files"]] == [4] and len(read_snapshot(again["snapshot_prefix"])) == 4
    older = aws.s3.get_object(Bucket="lake", Key="mirror/snapshots/orders/snapshot=20200101T000000Z/part-00000.parquet")
    assert older["Body"].read() == b"an older snapshot"
    assert aws.s3.get_object(Bucket="lake", Key="unrelated.txt")["Body"].read() == b"not ours"


def test_snapshot_folder_holding_foreign_objects_is_refused_terminally(aws, dag, context_for):
    dest_url = "s3://lake/mirror/snapshots/orders/snapshot=20261121T000000Z"
    foreign_key = dest_url.removeprefix("s3://lake/") + "/part-00000.parquet"
    aws.s3.put_object(Bucket="lake", Key=foreign_key, Body=b"written by someone else")
    with pytest.raises(AirflowFailException, match=f"{dest_url} is not empty and holds 1 object.*part-00000.parquet"):
        export_then_convert(aws, dag, context_for, dest_url=dest_url)
    assert aws.s3.get_object(Bucket="lake", Key=foreign_key)["Body"].read() == b"written by someone else"
    assert aws.keys("lake", dest_url.removeprefix("s3://lake/") + "/") == [foreign_key]


def test_unfinished_export_is_refused(aws):
    operator = ExportToParquetOperator(
        task_id="convert",
        export={"export_arn": "arn:x", "table_name": "orders", "export_folder": None, "s3_bucket": "lake"},
        dest_url="s3://lake/mirror/snapshots/orders/snapshot=20261121T000000Z", snapshot="20261121T000000Z",
    )
    with pytest.raises(AirflowFailException, match="Export arn:x of table orders has no export_folder"):
        operator.execute({})


def test_export_that_is_not_a_dict_is_refused_naming_the_task():
    operator = ExportToParquetOperator(
        task_id="convert", export="{'table_name': 'orders'}", dest_url="s3://lake/x", snapshot="x"
    )
    with pytest.raises(AirflowFailException, match=r"Task convert: export must be the export task's result \(a dict"):
        operator.execute({})


def test_bad_export_content_fails_terminally_naming_the_file(aws):
    aws.s3.put_object(Bucket="lake", Key="mirror/exports/orders/full/20261121T000000Z/AWSDynamoDB/x/data/a.gz",
                      Body=b"this is not gzip")
    export = {
        "export_arn": "arn:x", "table_name": "orders", "export_type": "FULL_EXPORT",
        "export_time": "2026-11-21T00:00:00+00:00", "window_start": None, "s3_bucket": "lake",
        "s3_prefix": "mirror/exports/orders/full/20261121T000000Z",
        "export_folder": "s3://lake/mirror/exports/orders/full/20261121T000000Z/AWSDynamoDB/x/", "item_count": 1,
    }
    with pytest.raises(AirflowFailException) as failure:
        ExportToParquetOperator(
            task_id="convert", export=export,
            dest_url="s3://lake/mirror/snapshots/orders/snapshot=20261121T000000Z", snapshot="20261121T000000Z",
        ).execute({})
    assert "cannot be converted" in str(failure.value) and "a.gz" in str(failure.value)
    assert aws.keys("lake", "mirror/snapshots/") == []  # nothing half-published


def test_templated_fields_render(dag, context_for):
    operator = ExportToParquetOperator(
        task_id="convert", dag=dag, export="{{ params.export }}", dest_url="s3://lake/custom/{{ ds }}",
        snapshot="{{ ds }}", params={"export": {"table_name": "orders"}},
    )
    from datetime import datetime

    end = datetime(2026, 11, 21, tzinfo=UTC)
    operator.render_template_fields(context_for(dag, operator, end - timedelta(days=1), end))
    assert operator.dest_url == "s3://lake/custom/2026-11-20"
    assert "orders" in operator.export
    assert operator.snapshot == "2026-11-20"
    assert set(ExportToParquetOperator.template_fields) >= {"export", "dest_url", "snapshot"}


def create_empty_keyed_table(aws, name: str, key_types: dict[str, str]):
    """A table with no item whose key is ``key_types`` (first: partition key, second: sort key); PITR on."""
    names = list(key_types)
    aws.dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": a, "KeyType": k} for a, k in zip(names, ("HASH", "RANGE"), strict=False)],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in key_types.items()],
        BillingMode="PAY_PER_REQUEST",
    )
    aws.dynamodb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    return aws.dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["EarliestRestorableDateTime"]


@pytest.mark.parametrize("key_types", [{"Order-Id": "S", "seq": "N"}, {"blob_key": "B"}])
def test_an_empty_table_gives_a_typed_snapshot_of_its_key_columns(aws, dag, context_for, key_types):
    pitr_time = create_empty_keyed_table(aws, "orders", key_types)
    export = DynamoDBExportOperator(task_id="export", table_name="orders", s3_bucket="lake",
                                    s3_prefix=LAYOUT.export_prefix("FULL_EXPORT", pitr_time), waiter_delay=1)
    context = context_for(dag, export, pitr_time - timedelta(days=1), pitr_time)
    export_result = export.execute(context)
    assert export_result["key_schema"] == [{"attribute": a, "type": t} for a, t in key_types.items()]

    summary = ExportToParquetOperator(task_id="convert", export=export_result, **planned(pitr_time)).execute(context)
    assert summary["items"] == 0 and [f["rows"] for f in summary["files"]] == [0]
    lake_types = {"S": {"kind": "string"}, "N": {"kind": "decimal_text"}, "B": {"kind": "binary"}}
    expected = [{"name": a.lower().replace("-", "_"), "attribute": a, "type": lake_types[t],
                 "note": f"key attribute (DescribeTable {t}); no item exported yet"} for a, t in key_types.items()]
    assert summary["schema"]["fields"] == expected
    fs = s3fs.S3FileSystem(**LakeStorageHook().storage_options(), skip_instance_cache=True)
    with fs.open(summary["files"][0]["path"].removeprefix("s3://"), "rb") as handle:
        written = pq.read_table(handle)
    arrow_types = {"S": pa.string(), "N": pa.string(), "B": pa.binary()}
    assert written.num_rows == 0
    assert [(f.name, f.type) for f in written.schema] == [
        (e["name"], arrow_types[t]) for e, t in zip(expected, key_types.values(), strict=True)]
