"""export.mode scan on moto: a table without PITR, items of every type, 4 segments, exported in AWS's layout,
converted with values exact; a rerun of the interval reads and writes nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime

import pytest
from scan_tables import (
    create_table_without_pitr,
    export_items,
    export_plain,
    parquet_items,
    sets_of,
    sorted_items,
    table_items,
)

pytestmark = [pytest.mark.integration]

TABLE, BUCKET = "scan-orders", "lake"
START, END = datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)
PREFIX = "mirror/exports/scan_orders/full/20261122T000000Z"
# every type (the demo items cycle through them within 400); DDB_LAKE_SCAN_ITEMS=20000 runs the full size
# (about 20 ms of moto per item scanned: minutes, so not in the suite); see docs/export-modes.md
ITEMS = int(os.environ.get("DDB_LAKE_SCAN_ITEMS", "400"))
SCAN = {"segments": 4, "page_items": 40, "file_items": 60, "target_read_units_per_second": 1000}


def scan_operator(dag, task_id: str = "export", **scan):
    from ddb_lake.operators.dynamodb_scan_export import DynamoDBScanExportOperator

    return DynamoDBScanExportOperator(task_id=task_id, table_name=TABLE, s3_bucket=BUCKET, s3_prefix=PREFIX,
                                      scan={**SCAN, **scan}, dag=dag)


def listing(aws, prefix: str) -> dict[str, tuple[str, str]]:
    contents = aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: (o["ETag"], o["LastModified"].isoformat()) for o in contents}


def test_scan_export_of_every_type_converts_exactly_and_a_rerun_changes_nothing(aws, dag, context_for):
    from ddb_lake.operators.export_to_parquet import ExportToParquetOperator

    create_table_without_pitr(aws.dynamodb, TABLE, ITEMS)
    task = scan_operator(dag)
    result = task.execute(context_for(dag, task, START, END))

    folder = result["export_folder"].removeprefix(f"s3://{BUCKET}/").rstrip("/")
    assert folder.startswith(f"{PREFIX}/AWSDynamoDB/01795305600000-")  # the interval end in ms, then the hash
    assert result["item_count"] == ITEMS and result["scan"]["scanned"] == ITEMS
    assert result["export_type"] == "FULL_EXPORT" and result["key_schema"] == [
        {"attribute": "pk", "type": "S"}, {"attribute": "sk", "type": "S"}]
    summary = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=f"{folder}/manifest-summary.json")["Body"].read())
    assert summary["itemCount"] == ITEMS and summary["exportType"] == "FULL_EXPORT"
    assert summary["ddbLakeScan"]["pointInTime"] is False and summary["ddbLakeScan"]["segments"] == 4
    items, entries = export_items(aws.s3, BUCKET, folder)
    assert sum(e["itemCount"] for e in entries) == ITEMS
    for entry in entries:  # the manifest's MD5 is the object's
        body = aws.s3.get_object(Bucket=BUCKET, Key=entry["dataFileS3Key"])["Body"].read()
        assert base64.b64decode(entry["md5Checksum"]) == hashlib.md5(body).digest()
    assert {e["dataFileS3Key"].rsplit("/", 1)[1][:13] for e in entries} == {f"segment-0000{n}" for n in range(4)}

    source = table_items(aws.dynamodb, TABLE)
    expected = sorted_items(source)
    assert sorted_items(items, decode=export_plain) == expected  # the export's lines: every value exact, no duplicate
    assert any("ledgerBalance" in i and i["ledgerBalance"]["N"] == "12345678901234567890123456789.123456789"
               for i in items)  # 38 digits as text: never through float

    convert = ExportToParquetOperator(task_id="convert", export=result, dest_url=f"s3://{BUCKET}/mirror/snap",
                                      snapshot="20261122T000000Z", dag=dag)
    converted = convert.execute(context_for(dag, convert, START, END))
    assert converted["items"] == ITEMS
    assert parquet_items(aws.s3, BUCKET, converted, sets_of(source)) == expected

    before = listing(aws, PREFIX)
    again = scan_operator(dag, "export_rerun")
    rerun = again.execute(context_for(dag, again, START, END))
    assert listing(aws, PREFIX) == before  # no object rewritten, none added
    assert rerun == result


def test_a_filtered_projected_scan_exports_the_matching_part_and_a_refused_filter_names_the_settings(aws, dag,
                                                                                                   context_for):
    from ddb_lake.compat import AirflowFailException

    create_table_without_pitr(aws.dynamodb, TABLE, 60)
    scan = {"filter_expression": "#s = :s", "projection_expression": "pk, sk, #s",
            "expression_attribute_names": {"#s": "status"}, "expression_attribute_values": {":s": {"S": "PAID"}}}
    task = scan_operator(dag, **scan)
    result = task.execute(context_for(dag, task, START, END))
    items, _ = export_items(aws.s3, BUCKET, result["export_folder"].removeprefix(f"s3://{BUCKET}/").rstrip("/"))
    paid = sorted(i["sk"]["S"] for i in table_items(aws.dynamodb, TABLE) if i["status"]["S"] == "PAID")
    assert sorted(i["sk"]["S"] for i in items) == paid and len(paid) == 12  # every 5th demo order is PAID
    assert all(set(i) == {"pk", "sk", "status"} for i in items)
    assert result["item_count"] == 12 and result["scan"]["scanned"] == 60 and result["scan"]["filtered"]

    refused = scan_operator(dag, "export_refused", **{**scan, "filter_expression": "#s === :s"})  # a typo
    with pytest.raises(AirflowFailException, match=r"refused: .*Fix export\.scan\.projection_expression, filter_exp"):
        refused.execute(context_for(dag, refused, START, END))
