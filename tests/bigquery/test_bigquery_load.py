"""Snapshot loads against the GCS emulator and bqemulator, and the exact request real BigQuery gets.

bqemulator cannot take partition decorators (``t$20261122``), BIGNUMERIC or ALLOW_FIELD_ADDITION. So:
- the ``partitioned`` layout (the default, decorator + WRITE_TRUNCATE) is tested by creating its ingestion-time
  partitioned table on the emulator for real and asserting the exact job resource the google client would send;
- loads, reruns, replacement of exactly one day, reattach and the deferrable wait run for real with the ``sharded``
  layout (one table per day, WRITE_TRUNCATE), whose job differs only in the destination tableId and in the absence
  of partition options.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from bq_context import INTERVAL_END, first_event, run_context
from bq_snapshots import BIG, SNAPSHOT, put_snapshot

from ddb_lake.compat import AirflowException, AirflowFailException
from ddb_lake.core.errors import ServiceError
from ddb_lake.destinations.bigquery.job_trigger import BigQueryJobTrigger
from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook
from ddb_lake.destinations.bigquery.load_operator import BigQueryLoadSnapshotOperator
from ddb_lake.destinations.bigquery.schema import BigQuerySchemaError
from ddb_lake.destinations.bigquery.transfer_operator import SnapshotToGCSOperator

pytestmark = pytest.mark.integration
DAY = date(2026, 11, 22)
DEADLINE = 5.0


@pytest.fixture
def dataset(bigquery_emulator_host, gcp_project) -> str:
    """A fresh dataset, created here: ddb-lake never creates one."""
    name = f"lake_{uuid.uuid4().hex[:8]}"
    BigQueryLoadHook(api_deadline=DEADLINE).client(gcp_project).create_dataset(f"{gcp_project}.{name}")
    return name


def transfer(summary: dict, bucket: str) -> dict:
    op = SnapshotToGCSOperator(
        task_id="transfer_to_gcs", snapshot=summary, gcs_bucket=bucket, gcs_prefix=f"orders/{summary['snapshot']}"
    )
    return op.execute(run_context())


def load_op(gcp_project: str, dataset: str, xcoms: dict, **kwargs) -> BigQueryLoadSnapshotOperator:
    """The load task of a run whose convert and transfer tasks returned ``xcoms``."""
    kwargs.setdefault("layout", "sharded")
    return BigQueryLoadSnapshotOperator(
        task_id="load_bigquery",
        snapshot=xcoms["convert"],
        transfer=xcoms.get("transfer_to_gcs", {}),
        project_id=gcp_project,
        dataset=dataset,
        table="orders",
        api_deadline=DEADLINE,
        **kwargs,
    )


def rows_of(gcp_project: str, sql: str) -> list[dict]:
    hook = BigQueryLoadHook(api_deadline=DEADLINE)
    return [dict(r.items()) for r in hook.client(gcp_project).query(sql, retry=hook.retry, job_retry=None).result()]


def test_load_rerun_and_replace_exactly_one_day(moto_reset, gcs_bucket, gcp_project, dataset):
    day22 = put_snapshot()
    xcoms = {"convert": day22.summary, "transfer_to_gcs": transfer(day22.summary, gcs_bucket)}
    first = load_op(gcp_project, dataset, xcoms, interval_end=INTERVAL_END.isoformat()).execute(run_context())
    assert (first["table_id"], first["how"]) == ("orders_20261122", "submitted")
    assert first["destination"] == "bigquery"
    assert first["job_id"].startswith("ddb_lake_ddb_lake_orders_orders_20261122T000000_") and first["job_id"].endswith(
        "_g0"
    )
    hook = BigQueryLoadHook(api_deadline=DEADLINE)
    assert hook.count_rows(_dest(gcp_project, dataset), DAY) == 75

    # Every type came through exactly: 38 significant digits in NUMERIC, a 38-digit integer as text, nested records.
    row = rows_of(gcp_project, f"SELECT * FROM `{dataset}.orders_20261122` WHERE pk = 'order#00001'")[0]
    assert row["amount"] == BIG - 1 and isinstance(row["amount"], Decimal)
    assert row["exact_text"] == str(10**37 + 1)
    assert row["price"] == Decimal("1.25") and row["sk"] == 1 and row["ratio"] == 0.125 and row["active"] is False
    assert row["blob"] == bytes([1, 255])
    assert row["tags"] == ["t1", "x"] and row["lines"] == [{"sku": "sku1", "qty": 1}]
    assert row["address"] == {"city": "city1", "zip": 10001}
    table = hook.client(gcp_project).get_table(f"{gcp_project}.{dataset}.orders_20261122")
    assert {f.name: f.description for f in table.schema}["pk"] == "DynamoDB attribute 'PK'"

    # A retry with the same files and configuration reattaches to the finished job: nothing is loaded twice.
    again = load_op(gcp_project, dataset, xcoms).execute(run_context())  # seeded by the snapshot stamp: same id
    assert (again["job_id"], again["how"]) == (first["job_id"], "finished")
    # A forced rerun submits the next generation; WRITE_TRUNCATE keeps the count.
    forced = load_op(gcp_project, dataset, xcoms, force_rerun=True).execute(run_context())
    assert forced["job_id"].endswith("_g1") and forced["how"] == "submitted"
    assert hook.count_rows(_dest(gcp_project, dataset), DAY) == 75

    # The next day lands next to it; then day 22 is re-converted one row short and reloaded: only day 22 changes.
    day23 = put_snapshot("lake/snapshots/orders/snapshot=20261123T000000Z", (10,), "20261123T000000Z")
    xcoms23 = {"convert": day23.summary, "transfer_to_gcs": transfer(day23.summary, gcs_bucket)}
    end23 = datetime(2026, 11, 23, tzinfo=UTC)
    load23 = load_op(gcp_project, dataset, xcoms23, interval_end=end23.isoformat())
    assert load23.execute(run_context(end23))["table_id"] == "orders_20261123"
    short22 = put_snapshot(parts=(40, 34))
    xcoms_short = {"convert": short22.summary, "transfer_to_gcs": transfer(short22.summary, gcs_bucket)}
    assert xcoms_short["transfer_to_gcs"]["copied"] == 1  # only the rewritten part file
    reload = load_op(gcp_project, dataset, xcoms_short).execute(run_context())
    assert reload["how"] == "submitted" and reload["job_id"] != first["job_id"]  # new file contents, new job
    assert hook.count_rows(_dest(gcp_project, dataset), DAY) == 74
    assert hook.count_rows(_dest(gcp_project, dataset), date(2026, 11, 23)) == 10


def _dest(project: str, dataset: str):
    from ddb_lake.destinations.bigquery.load_job import BigQueryDestination

    return BigQueryDestination(project, dataset, "orders", "sharded")


def test_deferrable_load_waits_through_the_trigger(moto_reset, gcs_bucket, gcp_project, dataset):
    from ddb_lake.compat import TaskDeferred

    snap = put_snapshot()
    xcoms = {"convert": snap.summary, "transfer_to_gcs": transfer(snap.summary, gcs_bucket)}
    op = load_op(gcp_project, dataset, xcoms, deferrable=True, poll_interval=0.1)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(run_context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, BigQueryJobTrigger) and deferred.value.method_name == "execute_complete"
    event = first_event(trigger)
    assert event.payload == {"status": "success", "job_id": trigger.job_id, "message": "done"}
    result = op.execute_complete(run_context(), event.payload, **deferred.value.kwargs)
    assert result["job_id"] == trigger.job_id and result["table_id"] == "orders_20261122"
    assert BigQueryLoadHook(api_deadline=DEADLINE).count_rows(_dest(gcp_project, dataset), DAY) == 75
    with pytest.raises(AirflowException, match="boom"):
        op.execute_complete(run_context(), {"status": "error", "job_id": "j", "message": "boom"}, result=result)
    # Resumed with the event only (``airflow dags test`` drops the defer kwargs): planning again finds the job.
    resumed = op.execute_complete(run_context(), event.payload)
    assert (resumed["job_id"], resumed["how"]) == (trigger.job_id, "finished")


def test_reattach_to_a_submitted_job_and_skip_a_failed_one(moto_reset, gcs_bucket, gcp_project, dataset):
    snap = put_snapshot()
    xcoms = {"convert": snap.summary, "transfer_to_gcs": transfer(snap.summary, gcs_bucket)}
    op = load_op(gcp_project, dataset, xcoms)
    configuration, _ = op.plan(_dest(gcp_project, dataset), DAY, snap.summary, xcoms["transfer_to_gcs"]["uris"])
    hook = BigQueryLoadHook(api_deadline=DEADLINE)
    base = f"reattach_{uuid.uuid4().hex[:6]}"
    # generation 0 fails for real (a file that does not exist); the next try must move on to generation 1.
    broken = {"load": {**configuration["load"], "sourceUris": [f"gs://{gcs_bucket}/missing.parquet"]}}
    hook.submit_or_reattach(gcp_project, broken, lambda g: f"{base}_g{g}")
    with pytest.raises(ServiceError, match=f"BigQuery job {base}_g0 failed"):
        hook.wait_for_job(gcp_project, f"{base}_g0")
    submitted = hook.submit_or_reattach(gcp_project, configuration, lambda g: f"{base}_g{g}")
    assert (submitted.job_id, submitted.how, submitted.generation) == (f"{base}_g1", "submitted", 1)
    hook.wait_for_job(gcp_project, submitted.job_id)
    again = hook.submit_or_reattach(gcp_project, configuration, lambda g: f"{base}_g{g}")
    assert (again.job_id, again.how, again.state) == (f"{base}_g1", "finished", "DONE")
    job_ids = {j.job_id for j in hook.client(gcp_project).list_jobs(project=gcp_project, retry=hook.retry)}
    assert {f"{base}_g0", f"{base}_g1"} <= job_ids and f"{base}_g2" not in job_ids


def test_partitioned_layout_creates_an_ingestion_time_table_and_sends_a_decorator_truncate(
    moto_reset, gcs_bucket, gcp_project, dataset
):
    from google.cloud.bigquery import LoadJob

    snap = put_snapshot()
    uris = transfer(snap.summary, gcs_bucket)["uris"]
    op = load_op(gcp_project, dataset, {"convert": snap.summary}, layout="partitioned", partition_expiration_days=400)
    from ddb_lake.destinations.bigquery.load_job import BigQueryDestination

    dest = BigQueryDestination(gcp_project, dataset, "orders", "partitioned")
    configuration, evolution = op.plan(dest, DAY, snap.summary, uris)
    table = op.hook.client(gcp_project).get_table(f"{gcp_project}.{dataset}.orders")  # created for real
    assert table.time_partitioning.type_ == "DAY" and table.time_partitioning.field is None  # ingestion time
    assert table.time_partitioning.expiration_ms == 400 * 86_400_000
    assert evolution.added == () and evolution.kept_missing == ()
    # The job resource the google client sends to jobs.insert for this configuration (the exact request body).
    body = LoadJob.from_api_repr(
        {"jobReference": {"projectId": gcp_project, "jobId": "j"}, "configuration": configuration},
        op.hook.client(gcp_project),
    ).to_api_repr()
    load = body["configuration"]["load"]
    assert load["destinationTable"] == {"projectId": gcp_project, "datasetId": dataset, "tableId": "orders$20261122"}
    assert load["writeDisposition"] == "WRITE_TRUNCATE" and load["sourceFormat"] == "PARQUET"
    assert load["timePartitioning"] == {"type": "DAY"} and load["autodetect"] is False
    assert load["parquetOptions"] == {"enableListInference": True, "enumAsString": True}
    assert load["decimalTargetTypes"] == ["NUMERIC", "BIGNUMERIC", "STRING"]
    assert "schemaUpdateOptions" not in load  # nothing to add on the first load
    assert [f["name"] for f in load["schema"]["fields"]][:3] == ["pk", "sk", "amount"]
    assert load["sourceUris"] == uris
    assert body["configuration"]["labels"] == {"ddb_lake_table": "orders", "ddb_lake_snapshot": SNAPSHOT.lower()}

    # The next snapshot has a new column: the same request gains ALLOW_FIELD_ADDITION, the rest unchanged.
    from bq_snapshots import ORDERS_SCHEMA

    from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

    wider = LakeSchema((*ORDERS_SCHEMA.fields, LakeField("color", "Color", LakeType("string"))))
    configuration2, evolution2 = op.plan(dest, DAY, {**snap.summary, "schema": wider.to_json()}, uris)
    assert evolution2.added == ("color",)
    assert configuration2["load"]["schemaUpdateOptions"] == ["ALLOW_FIELD_ADDITION"]
    assert configuration2["load"]["schema"]["fields"][-1]["name"] == "color"


def test_a_narrowing_change_fails_before_any_job(moto_reset, gcs_bucket, gcp_project, dataset):
    from bq_snapshots import ORDERS_SCHEMA

    from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

    snap = put_snapshot()
    xcoms = {"convert": snap.summary, "transfer_to_gcs": transfer(snap.summary, gcs_bucket)}
    load_op(gcp_project, dataset, xcoms, layout="latest").execute(run_context())
    narrowed = LakeSchema(
        tuple(
            LakeField(f.name, f.attribute, LakeType("string")) if f.name == "price" else f for f in ORDERS_SCHEMA.fields
        )
    )
    xcoms["convert"] = {**snap.summary, "schema": narrowed.to_json()}
    with pytest.raises(
        AirflowFailException, match=r"column 'price' is NULLABLE NUMERIC in BigQuery but NULLABLE STRING"
    ) as refused:
        load_op(gcp_project, dataset, xcoms, layout="latest").execute(run_context())
    assert isinstance(refused.value.__cause__, BigQuerySchemaError)  # a SchemaError: terminal, not retried


def test_a_missing_dataset_fails_at_once_and_is_not_created(moto_reset, gcs_bucket, gcp_project):
    from google.api_core.exceptions import NotFound

    from ddb_lake.core.errors import NotFoundError

    snap = put_snapshot()
    xcoms = {"convert": snap.summary, "transfer_to_gcs": transfer(snap.summary, gcs_bucket)}
    typo = f"lake_typo_{uuid.uuid4().hex[:8]}"
    with pytest.raises(AirflowFailException) as refused:
        load_op(gcp_project, typo, xcoms).execute(run_context())
    assert isinstance(refused.value.__cause__, NotFoundError)  # terminal: no retries
    assert str(refused.value).startswith(f"BigQuery dataset {gcp_project}.{typo} does not exist (table file field "
                                         "bigquery.dataset, loading table orders)")
    assert f"bq mk --dataset --location=US {gcp_project}:{typo}" in str(refused.value)
    with pytest.raises(NotFound):
        BigQueryLoadHook(api_deadline=DEADLINE).client(gcp_project).get_dataset(f"{gcp_project}.{typo}")


def test_trigger_serializes_round_trip():
    trigger = BigQueryJobTrigger("job-1", "proj", "EU", "gcp", 3.0, 30.0)
    path, kwargs = trigger.serialize()
    assert path == "ddb_lake.destinations.bigquery.job_trigger.BigQueryJobTrigger"
    assert BigQueryJobTrigger(**kwargs).serialize() == (path, kwargs)
    assert kwargs == {
        "job_id": "job-1",
        "project_id": "proj",
        "location": "EU",
        "gcp_conn_id": "gcp",
        "poll_interval": 3.0,
        "api_deadline": 30.0,
    }


def test_templated_fields_render():
    from jinja2 import Environment

    op = BigQueryLoadSnapshotOperator(
        task_id="t", snapshot={}, transfer={}, project_id="{{ params.p }}", dataset="{{ params.d }}_lake",
        table="{{ params.t }}",
    )
    assert set(op.template_fields) >= {"project_id", "dataset", "table", "layout"}
    assert {"snapshot", "transfer", "interval_end"} <= set(op.template_fields)  # XComArgs resolve at run time
    op.render_template_fields({"params": {"p": "proj", "d": "raw", "t": "orders"}}, jinja_env=Environment())
    assert (op.project_id, op.dataset, op.table) == ("proj", "raw_lake", "orders")
    transfer_op = SnapshotToGCSOperator(
        task_id="x", snapshot={}, gcs_bucket="{{ params.b }}", gcs_prefix="{{ params.t }}/s"
    )
    transfer_op.render_template_fields({"params": {"b": "bkt", "t": "orders"}}, jinja_env=Environment())
    assert (transfer_op.gcs_bucket, transfer_op.gcs_prefix) == ("bkt", "orders/s")


def test_staging_prefix_has_no_hive_folder():
    from pathlib import Path

    from ddb_lake.core.config.table_config import load_table_config
    from ddb_lake.core.run_plan import table_plan

    orders = load_table_config(Path(__file__).resolve().parents[2] / "include" / "tables" / "orders.yaml")
    staging_prefix = table_plan(orders, "full").for_interval(None, INTERVAL_END).gcs_staging_prefix
    assert staging_prefix == "orders/20261122T000000Z"


def test_trigger_reports_an_unknown_job_as_an_error(gcp_project, bigquery_emulator_host):
    event = first_event(BigQueryJobTrigger("no_such_job_xyz", gcp_project, poll_interval=0.1, api_deadline=DEADLINE))
    assert event.payload["status"] == "error" and event.payload["job_id"] == "no_such_job_xyz"
    assert "BigQuery job no_such_job_xyz not found" in event.payload["message"]
