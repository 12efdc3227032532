"""Issue 14's done-when, in-process on the local stack: writes to a moto DynamoDB table with a stream → the handler
(include/cdc, unchanged) driven from the stream the way Lambda's event source mapping does (a record reported back
and retried, a batch delivered twice) → moto S3 → the CDC merge → the Iceberg table equals a scan of the DynamoDB
table, value by value: deletes, several changes to one key, a duplicate batch, a run with no new file (changes
nothing), a 30-hour stream gap healed from an incremental export of exactly the missing window (built in AWS's
layout: moto writes full items for incremental requests), and the cleanup of merged files after the grace."""

from __future__ import annotations

import copy
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bigquery_items import bigquery_items, query
from cdc.stream_handler import ChangeWriter, handle_stream_event
from change_exports import ItemModel, upload_folder, write_incremental_export
from conftest import BUCKET, DATABASE
from generated_changes import change_window, make_item
from item_compare import iceberg_items, scanned_items
from stream_driver import StreamDriver

from ddb_lake.compat import DAG, AirflowSkipException
from ddb_lake.core.cdc.change_files import cdc_prefix
from ddb_lake.core.lake.layout import TableLayout
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.destinations.bigquery.cdc_operator import BigQueryCdcApplyOperator
from ddb_lake.destinations.bigquery.cdc_sql import STATE_SUFFIX
from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook
from ddb_lake.hooks import iceberg_merge as engine
from ddb_lake.hooks.iceberg_catalog import IcebergCatalogHook
from ddb_lake.operators.cdc_merge import CdcCleanupOperator, CdcMergeOperator, CdcStateOperator, cdc_position
from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
from ddb_lake.operators.export_to_parquet import ExportToParquetOperator
from ddb_lake.operators.iceberg_table import IcebergMergeOperator, IcebergValidationOperator

pytestmark = pytest.mark.integration

TABLE = "books"
LAYOUT = TableLayout(BUCKET, "lake", TABLE)
LOCATION = f"s3://{BUCKET}/lake/iceberg/{TABLE}"
WHERE = {"database": DATABASE, "table_name": TABLE}
CDC = {**WHERE, "bucket": BUCKET, "cdc_prefix": cdc_prefix("lake", TABLE), "settle": timedelta(seconds=1)}
KEY_SCHEMA = [{"attribute": "pk", "type": "S"}, {"attribute": "sk", "type": "N"}]
DAG_ = DAG("ddb_lake_cdc_test", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC))


def context(task: Any, end: datetime) -> dict[str, Any]:
    return {"dag": DAG_, "task": task, "data_interval_start": end - timedelta(minutes=2), "data_interval_end": end,
            "logical_date": end - timedelta(minutes=2), "params": {}}


_CATALOG: list[Any] = []


def iceberg_table() -> Any:
    """The table as a reader sees it now (one catalog for the test: building one costs a second or two)."""
    if not _CATALOG:
        _CATALOG.append(IcebergCatalogHook(aws_conn_id="aws_default", region_name="us-east-1").get_catalog())
    return _CATALOG[0].load_table((DATABASE, TABLE))


def dynamodb_items(aws) -> list[dict]:
    return scanned_items(aws.dynamodb, TABLE)


def assert_equal_to_dynamodb(aws) -> None:
    table = iceberg_table()
    assert iceberg_items(table, engine.stored_schema(table)) == dynamodb_items(aws)


def export_merge_validate(state: dict, export: dict, now: datetime) -> dict:
    """The export's convert → Iceberg merge (bootstrap or heal window) → validate, as the CDC DAG runs them."""
    convert = ExportToParquetOperator(task_id="convert", export=export, dest_url=state["changes_url"],
                                      snapshot=state["snapshot"], previous_schema=state["previous_schema"])
    summary = convert.execute(context(convert, now))
    merged = IcebergMergeOperator(task_id="merge", location=LOCATION, export=export, conversion=summary,
                                  state=state, **WHERE).execute({})
    assert IcebergValidationOperator(task_id="validate", merge=merged, **WHERE).execute({})["ok"]
    return merged


def merge_changes(now: datetime) -> dict:
    merged = CdcMergeOperator(task_id="changes", now=now, **CDC).execute({})
    assert IcebergValidationOperator(task_id="validate_changes", merge=merged, **WHERE).execute({})["ok"]
    return merged


class BigQueryCopy:
    """The CDC DAG's ``bigquery`` task into a fresh dataset of the BigQuery stand-in, and what a reader sees there."""

    def __init__(self, project: str) -> None:
        self.project, self.dataset = project, f"cdc_{uuid.uuid4().hex[:8]}"
        BigQueryLoadHook(api_deadline=5.0).client(project).create_dataset(f"{project}.{self.dataset}")

    def apply(self) -> dict | None:
        """The task's result, or None when it skipped (BigQuery already level)."""
        try:
            return BigQueryCdcApplyOperator(task_id="bigquery", project_id=self.project, dataset=self.dataset,
                                            table=TABLE, api_deadline=5.0, **CDC).execute({})
        except AirflowSkipException:
            return None

    def items(self, schema: LakeSchema) -> list[dict]:
        return bigquery_items(self.project, f"{self.dataset}.{TABLE}", schema)


def assert_bigquery_equal_to_dynamodb(aws, bigquery: BigQueryCopy) -> list[dict]:
    table = iceberg_table()
    items = bigquery.items(engine.stored_schema(table))
    assert items == dynamodb_items(aws)
    return items


def create_source(aws) -> tuple[ItemModel, str]:
    aws.dynamodb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    stream_arn = aws.dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    return ItemModel(("pk", "sk"), dynamodb=aws.dynamodb, table_name=TABLE), stream_arn


def test_stream_changes_reach_the_iceberg_table_exactly_including_a_healed_30_hour_gap(aws, tmp_path, gcp_project):
    rng, deleted = random.Random(14), []
    bigquery = BigQueryCopy(gcp_project)
    model, stream_arn = create_source(aws)
    for i in range(60):
        model.put(make_item(rng, f"user#{i:04d}", i % 5, 0), datetime.now(UTC))
    model.take_lines()
    aws.dynamodb.update_continuous_backups(
        TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    pitr = aws.dynamodb.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["LatestRestorableDateTime"].astimezone(UTC)

    # the event source mapping: batches of 25; the 2nd delivery loses a record's NewImage in transit (reported back,
    # retried from it), the 3rd is delivered twice (a Lambda that wrote its object and then timed out)
    writer = ChangeWriter(aws.s3, BUCKET, "lake/cdc")
    deliveries = []

    def mapping(event: dict, _context: Any) -> dict:
        deliveries.append(event)
        if len(deliveries) == 2:
            event = copy.deepcopy(event)
            del event["Records"][3]["dynamodb"]["NewImage"]
        if len(deliveries) == 3:
            handle_stream_event(event, writer)
        return handle_stream_event(event, writer)

    driver = StreamDriver(aws.streams, stream_arn, mapping, batch_size=25)

    # bootstrap from a full export (the stream is on since before it) 5 minutes before now, where DynamoDB's
    # recovery window ends (moto's stays where PITR was switched on: this run's "now" is 5 minutes after that)
    now = pitr + timedelta(minutes=5)
    state = CdcStateOperator(task_id="state", layout=LAYOUT, now=now, **CDC).execute({})
    assert state["action"] == "bootstrap" and state["export_time"] == (now - timedelta(minutes=5)).isoformat()
    export_task = DynamoDBExportOperator(task_id="export", table_name=TABLE, s3_bucket=BUCKET,
                                         s3_prefix=state["export_prefix"], export_type=state["export_type"],
                                         export_time=state["export_time"], waiter_delay=1)
    assert export_merge_validate(state, export_task.execute(context(export_task, now)), now)["action"] == \
        "bootstrapped"
    assert_equal_to_dynamodb(aws)
    applied = bigquery.apply()  # BigQuery holds nothing yet: the whole bootstrapped table
    assert (applied["action"], applied["upserts"], applied["deletes"]) == ("reload", 60, 0)
    assert applied["iceberg_snapshot_id"] == iceberg_table().current_snapshot().snapshot_id
    assert_bigquery_equal_to_dynamodb(aws, bigquery)

    # changes: inserts, one to three updates per key, deletes, a key deleted and re-inserted; the seed's own
    # records come through the stream too and apply again on top of the bootstrap
    change_window(model, rng, pitr, 0, deleted)
    model.take_lines()
    assert driver.drain() > 60
    (failed,) = driver.failures_reported
    assert failed == deliveries[1]["Records"][3]["dynamodb"]["SequenceNumber"]
    assert deliveries[2]["Records"][0]["dynamodb"]["SequenceNumber"] == failed  # retried from the failed record
    assert any(len({json.dumps(r["dynamodb"]["Keys"], sort_keys=True) for r in d["Records"]}) < len(d["Records"])
               for d in deliveries[3:])  # a batch holding several changes of one key
    now = datetime.now(UTC) + timedelta(seconds=2)
    with pytest.raises(AirflowSkipException, match="within the stream's retention"):
        CdcStateOperator(task_id="state", layout=LAYOUT, now=now, **CDC).execute({})
    merged = merge_changes(now)
    assert merged["action"] == "merged" and merged["duplicates"] == 25 and merged["files"] == len(writer.written)
    assert int(merged["properties"]["ddb-lake.deletes"]) >= 5
    assert_equal_to_dynamodb(aws)
    applied = bigquery.apply()  # the same micro-batch: deduplicated, last change per key, deletes included
    assert (applied["action"], applied["files"], applied["position"]) == ("changes", merged["files"],
                                                                          writer.written[-1])
    assert applied["deletes"] >= 5 and applied["upserts"] + applied["deletes"] == \
        int(merged["properties"]["ddb-lake.changes"])
    level = assert_bigquery_equal_to_dynamodb(aws, bigquery)
    assert bigquery.apply() is None  # a retried task: BigQuery already holds this snapshot
    assert bigquery.items(engine.stored_schema(iceberg_table())) == level

    # a run with no new file changes nothing
    snapshot = iceberg_table().current_snapshot().snapshot_id
    with pytest.raises(AirflowSkipException, match="no change file after"):
        CdcMergeOperator(task_id="changes", now=now + timedelta(seconds=5), **CDC).execute({})
    assert iceberg_table().current_snapshot().snapshot_id == snapshot
    assert bigquery.apply() is None

    # two micro-batches reach Iceberg while BigQuery's apply fails (not run): the next apply takes both files
    missed, first = [], model.items[sorted(model.items)[0]]
    for version in (1, 2):  # the same key updated in both, and a delete in the second
        model.put(make_item(rng, first["pk"]["S"], int(first["sk"]["N"]), version), datetime.now(UTC))
        if version == 2:
            model.delete(model.keys_of(model.items[sorted(model.items)[1]]), datetime.now(UTC))
        model.take_lines()
        assert driver.drain() > 0
        missed.append(merge_changes(datetime.now(UTC) + timedelta(seconds=2))["files"])
    applied = bigquery.apply()
    assert (applied["action"], applied["files"], applied["position"]) == ("changes", sum(missed), writer.written[-1])
    assert (applied["upserts"], applied["deletes"]) == (1, 1)  # the key's second update wins; the delete
    assert_bigquery_equal_to_dynamodb(aws, bigquery)

    # a 30-hour gap: the handler is down, the stream trims what it never read; changes after it arrive 30 h later
    watermark = engine.committed_state(iceberg_table()).watermark
    change_window(model, rng, watermark + timedelta(hours=1), 1, deleted)
    lost = model.take_lines()
    driver.skip_to_latest()
    driver.creation_shift = timedelta(hours=30)
    change_window(model, rng, watermark + timedelta(hours=30), 2, deleted)
    model.take_lines()
    assert driver.drain() > 0
    later = datetime.now(UTC) + timedelta(hours=30, seconds=2)
    with pytest.raises(AirflowSkipException, match="a stream gap must be healed first"):
        CdcMergeOperator(task_id="changes", now=later, **CDC).execute({})
    heal = CdcStateOperator(task_id="state", layout=LAYOUT, now=later, **CDC).execute({})
    assert (heal["action"], heal["export_type"]) == ("incremental", "INCREMENTAL_EXPORT")
    assert (heal["window_start"], heal["export_time"]) == (
        watermark.isoformat(), (watermark + timedelta(hours=24)).isoformat())
    folder = write_incremental_export(tmp_path / "heal" / "AWSDynamoDB" / "01765000000000-0000abcd", lost,
                                      watermark, watermark + timedelta(hours=24))
    url = upload_folder(aws.s3, folder, BUCKET, f"{heal['export_prefix']}/AWSDynamoDB/01765000000000-0000abcd")
    export = {"export_arn": f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}/export/01765000000000-0000abcd",
              "table_name": TABLE, "export_type": "INCREMENTAL_EXPORT", "export_folder": url, "item_count": None,
              "key_schema": KEY_SCHEMA}
    assert export_merge_validate(heal, export, later)["action"] == "merged"
    healed = (iceberg_table().current_snapshot().snapshot_id, cdc_position(iceberg_table()))
    with pytest.raises(AirflowSkipException, match="within the stream's retention"):
        CdcStateOperator(task_id="state", layout=LAYOUT, now=later, **CDC).execute({})
    merged = merge_changes(later)
    assert merged["action"] == "merged" and merged["properties"]["ddb-lake.window-start"] == \
        (watermark + timedelta(hours=24)).isoformat()
    assert_equal_to_dynamodb(aws)
    applied = bigquery.apply()  # the heal's rows came from an export, not from change files: a reload
    assert applied["action"] == "reload" and "did not come from change files" in applied["reason"]
    assert_bigquery_equal_to_dynamodb(aws, bigquery)

    # merged files go after the grace; the table does not change
    snapshot = iceberg_table().current_snapshot().snapshot_id
    cleaned = CdcCleanupOperator(task_id="cleanup", now=later + timedelta(hours=25), grace=timedelta(hours=24),
                                 **CDC).execute({})
    assert cleaned["deleted"] == len(writer.written)
    assert aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=CDC["cdc_prefix"]).get("KeyCount") == 0
    with pytest.raises(AirflowSkipException, match="no change file after"):
        CdcMergeOperator(task_id="changes", now=later + timedelta(hours=25), **CDC).execute({})
    assert iceberg_table().current_snapshot().snapshot_id == snapshot
    assert_equal_to_dynamodb(aws)
    assert bigquery.apply() is None
    # had BigQuery missed the last merge, whose files are now cleaned up: it cannot replay them, so it reloads
    query(gcp_project, f"UPDATE `{gcp_project}.{bigquery.dataset}.{TABLE}{STATE_SUFFIX}` SET iceberg_snapshot_id = "
                       f"{healed[0]}, position = '{healed[1]}' WHERE TRUE")
    applied = bigquery.apply()
    assert applied["action"] == "reload" and "some of them are gone (cleaned up)" in applied["reason"]
    assert_bigquery_equal_to_dynamodb(aws, bigquery)
