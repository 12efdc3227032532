"""The BigQuery mirror of the Iceberg current-state table on the local stack (moto, GCS and BigQuery emulators),
task by task with the operators the DAG builds: bootstrap, then one merged window (a real incremental export in AWS's
layout); after each, the mirror (snapshot → transfer → staged load → validate → publish) leaves BigQuery equal to the
Iceberg table, value by value, and the Iceberg table equal to a scan of DynamoDB. A second window whose BigQuery copy
comes out one row short fails validation terminally: nothing is published and BigQuery keeps the previous rows."""

from __future__ import annotations

import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from generated_changes import change_window
from item_compare import iceberg_items
from test_iceberg_table_runs import (
    TABLE,
    WHERE,
    context,
    create_source,
    dynamodb_items,
    run_after_export,
    state_at,
    window_export,
)

from ddb_lake.compat import DAG, AirflowFailException
from ddb_lake.destinations.bigquery.iceberg_mirror import (
    BigQueryMirrorValidationOperator,
    IcebergSnapshotParquetOperator,
)
from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook
from ddb_lake.destinations.bigquery.load_operator import BigQueryLoadSnapshotOperator
from ddb_lake.destinations.bigquery.publish_operator import BigQueryPublishOperator
from ddb_lake.destinations.bigquery.transfer_operator import SnapshotToGCSOperator
from ddb_lake.hooks import iceberg_merge as engine
from ddb_lake.hooks.iceberg_catalog import IcebergCatalogHook
from ddb_lake.hooks.iceberg_snapshot_files import write_snapshot_parquet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bigquery"))
from bq_runs import OutletEvents
from bq_runs import context as bq_context

pytestmark = pytest.mark.integration

DEADLINE = 5.0
ASSET = "bigquery://books"


class Mirror:
    """The mirror's tasks for one run, into ``<dataset>.books`` (layout ``latest``)."""

    def __init__(self, project: str, dataset: str, bucket: str) -> None:
        self.project, self.dataset, self.bucket = project, dataset, bucket
        self.hook = BigQueryLoadHook(api_deadline=DEADLINE)

    def load(self, state: dict, verdict: dict) -> tuple[dict, dict, dict]:
        snapshot = IcebergSnapshotParquetOperator(task_id="snapshot", lake_table=TABLE, validation=verdict,
                                                  changes_url=state["changes_url"], **WHERE).execute({})
        ctx = bq_context(snapshot["interval_end"][:10]) | {"outlet_events": OutletEvents()}
        transfer = SnapshotToGCSOperator(task_id="transfer_to_gcs", snapshot=snapshot, gcs_bucket=self.bucket,
                                         gcs_prefix=snapshot["gcs_prefix"]).execute(ctx)
        load = BigQueryLoadSnapshotOperator(
            task_id="load", snapshot=snapshot, transfer=transfer, project_id=self.project, dataset=self.dataset,
            table=TABLE, layout="latest", interval_end=snapshot["interval_end"], stage=True,
            api_deadline=DEADLINE).execute(ctx)
        return snapshot, load, ctx

    def validate(self, snapshot: dict, load: dict, ctx: dict) -> dict:
        return BigQueryMirrorValidationOperator(task_id="validate", snapshot=snapshot, load=load,
                                                api_deadline=DEADLINE).execute(ctx)

    def publish(self, load: dict, ctx: dict) -> dict:
        return BigQueryPublishOperator(task_id="publish", load=load, api_deadline=DEADLINE,
                                       outlets=[ASSET]).execute(ctx)

    def run(self, state: dict, verdict: dict) -> tuple[dict, dict]:
        snapshot, load, ctx = self.load(state, verdict)
        assert self.validate(snapshot, load, ctx)["ok"]
        return self.publish(load, ctx), ctx

    def rows(self) -> list[dict]:
        sql = f"SELECT * FROM `{self.project}.{self.dataset}.{TABLE}`"
        found = self.hook.client(self.project).query(sql, retry=self.hook.retry, job_retry=None).result()
        return sorted((dict(r.items()) for r in found), key=_key)

    def tables(self) -> set[str]:
        return {t.table_id for t in self.hook.client(self.project).list_tables(f"{self.project}.{self.dataset}")}


def _key(row: dict) -> tuple:
    return row["pk"], row["sk"]


def _plain(value: Any) -> Any:
    """One value as both sides compare it: decimals by value (BigQuery NUMERIC keeps 9 digits of scale), a NULL
    list as empty (BigQuery reads a NULL ARRAY as [])."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def iceberg_rows(table: Any) -> list[dict]:
    rows = table.scan().to_arrow().to_pylist()
    return sorted(({k: [] if v is None and k == "tags" else v for k, v in r.items()} for r in rows), key=_key)


def current_table() -> Any:
    return IcebergCatalogHook(aws_conn_id="aws_default", region_name="us-east-1").load_table(WHERE["database"], TABLE)


def test_bigquery_mirrors_the_iceberg_table_and_a_short_copy_is_never_published(
    aws, tmp_path, gcs_emulator_host, gcp_project
):
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    bucket = f"lake-bq-{uuid.uuid4().hex[:10]}"
    GCSHook().get_conn().create_bucket(bucket, project=gcp_project)
    dataset = f"mirror_{uuid.uuid4().hex[:8]}"
    BigQueryLoadHook(api_deadline=DEADLINE).client(gcp_project).create_dataset(f"{gcp_project}.{dataset}")
    mirror = Mirror(gcp_project, dataset, bucket)

    rng = random.Random(7)
    model, t0 = create_source(aws, rng)
    dag = DAG("ddb_lake_bq_mirror_test", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC))
    from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator

    state = state_at(t0)
    export_task = DynamoDBExportOperator(task_id="export", table_name=TABLE, s3_bucket="lake",
                                         s3_prefix=state["export_prefix"], export_type=state["export_type"],
                                         export_time=state["export_time"], waiter_delay=1)
    _, verdict = run_after_export(dag, state, export_task.execute(context(dag, export_task, t0)), t0)
    published, ctx = mirror.run(state, verdict)
    assert published["rows"] == 80 and published["layout"] == "latest"
    assert [_plain(r) for r in mirror.rows()] == [_plain(r) for r in iceberg_rows(current_table())]

    deleted: list[dict] = []
    end = t0 + timedelta(hours=1)
    state = state_at(end)
    change_window(model, rng, t0, 0, deleted)
    merged, verdict = run_after_export(dag, state, window_export(aws, tmp_path, model, state, 0), end)
    assert merged["action"] == "merged" and deleted
    published, ctx = mirror.run(state, verdict)
    table = current_table()
    assert iceberg_items(table, engine.stored_schema(table)) == dynamodb_items(aws)
    bigquery = mirror.rows()
    assert len(bigquery) == published["rows"] == verdict["rows"] != 80
    assert [_plain(r) for r in bigquery] == [_plain(r) for r in iceberg_rows(table)]
    assert {(d["pk"]["S"], int(d["sk"]["N"])) for d in deleted}.isdisjoint(_key(r) for r in bigquery)
    assert ctx["outlet_events"][ASSET].extra["rows"] == verdict["rows"]
    assert mirror.tables() == {TABLE}  # the staging table is dropped after the copy
    schema = engine.stored_schema(table)
    parts = write_snapshot_parquet(table, verdict["snapshot_id"], schema, "s3://lake/split", rows_per_file=30)
    rows = verdict["rows"]
    assert [f["rows"] for f in parts] == [30] * (rows // 30) + ([rows % 30] if rows % 30 else [])
    split = engine.read_parquet_files(table.io, [f["path"] for f in parts], schema.to_arrow().remove_metadata())
    assert sorted(split.to_pylist(), key=_key) == sorted(table.scan().to_arrow().to_pylist(), key=_key)

    # the next window's BigQuery copy comes out one row short: terminal failure, nothing published
    end2 = end + timedelta(hours=1)
    state = state_at(end2)
    change_window(model, rng, end, 1, deleted)
    _, verdict = run_after_export(dag, state, window_export(aws, tmp_path, model, state, 1), end2)
    snapshot, load, ctx = mirror.load(state, verdict)
    one = bigquery[0]
    mirror.hook.run_statement(gcp_project, f"DELETE FROM `{gcp_project}.{dataset}.{load['staging_table']}` "
                                           f"WHERE pk = '{one['pk']}' AND sk = {one['sk']}")
    with pytest.raises(AirflowFailException, match=r"MISMATCH \(-1 rows\)\. Nothing was published"):
        mirror.validate(snapshot, load, ctx)
    assert mirror.rows() == bigquery  # consumers still read the previous window's rows
    assert mirror.tables() == {TABLE}  # the short staging copy is dropped: a rerun loads again
