"""The BigQuery half of a run, task by task on the local stack: transfer → staged load → validation → publish."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bq_context import RunTI
from bq_snapshots import Snapshot, put_snapshot

from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook
from ddb_lake.destinations.bigquery.load_operator import BigQueryLoadSnapshotOperator
from ddb_lake.destinations.bigquery.publish_operator import BigQueryPublishOperator
from ddb_lake.destinations.bigquery.transfer_operator import SnapshotToGCSOperator
from ddb_lake.operators.row_count_validation import RowCountValidationOperator

DEADLINE = 5.0


class OutletEvents(dict):
    """``context["outlet_events"]``: ``events[asset].extra = {...}`` as Airflow's accessor takes it."""

    def __missing__(self, key: Any) -> SimpleNamespace:
        self[key] = SimpleNamespace(extra=None)
        return self[key]


def context(day: str, conf: dict | None = None) -> dict[str, Any]:
    """A run's context for the interval ending at ``day`` (YYYY-MM-DD), with a fresh run id and ``conf``."""
    end = datetime.fromisoformat(day).replace(tzinfo=UTC)
    run_id = f"manual__{day}_{uuid.uuid4().hex[:6]}"
    return {
        "ti": RunTI(), "run_id": run_id, "dag_run": SimpleNamespace(run_id=run_id, conf=conf or {}),
        "data_interval_start": end - timedelta(days=1), "data_interval_end": end, "outlet_events": OutletEvents(),
    }


def snapshot_for(day: str, parts: tuple[int, ...], version: str = "v1") -> Snapshot:
    stamp = day.replace("-", "") + "T000000Z"
    return put_snapshot(f"lake/snapshots/orders/{version}/snapshot={stamp}", parts=parts, snapshot=stamp)


class BigQueryRun:
    """One interval's BigQuery tasks against one dataset and GCS bucket, with the operators the DAG builds."""

    def __init__(self, project: str, dataset: str, bucket: str, layout: str = "partitioned") -> None:
        self.project, self.dataset, self.bucket, self.layout = project, dataset, bucket, layout
        self.asset = "bigquery://orders"

    def load(self, snap: Snapshot, ctx: dict, **kwargs: Any) -> dict:
        transfer = SnapshotToGCSOperator(
            task_id="transfer_to_gcs", snapshot=snap.summary, gcs_bucket=self.bucket,
            gcs_prefix=f"orders/{snap.summary['snapshot_prefix'].split('/')[-2]}/{snap.summary['snapshot']}",
        ).execute(ctx)
        end = ctx["data_interval_end"].isoformat()
        return BigQueryLoadSnapshotOperator(
            task_id="load", snapshot=snap.summary, transfer=transfer, project_id=self.project, dataset=self.dataset,
            table="orders", layout=self.layout, interval_end=end, stage=True, api_deadline=DEADLINE, **kwargs,
        ).execute(ctx)

    def validate(self, snap: Snapshot, load: dict, ctx: dict) -> dict:
        return RowCountValidationOperator(
            task_id="validate", export={"item_count": len(snap.rows)}, snapshot=snap.summary, loads=[load],
            api_deadline=DEADLINE,
        ).execute(ctx)

    def publish(self, load: dict, ctx: dict) -> dict:
        op = BigQueryPublishOperator(task_id="publish", load=load, api_deadline=DEADLINE, outlets=[self.asset])
        return op.execute(ctx)

    def run(self, snap: Snapshot, day: str, conf: dict | None = None) -> tuple[dict, dict, dict]:
        """All three tasks of one run; (load, publish, context) results."""
        ctx = context(day, conf)
        load = self.load(snap, ctx)
        self.validate(snap, load, ctx)
        return load, self.publish(load, ctx), ctx

    def rows(self, sql: str) -> list[dict]:
        hook = BigQueryLoadHook(api_deadline=DEADLINE)
        sql = sql.replace("{t}", f"`{self.project}.{self.dataset}.orders`")
        found = hook.client(self.project).query(sql, retry=hook.retry, job_retry=None).result()
        return [dict(r.items()) for r in found]

    def per_day(self) -> dict[str, int]:
        sql = "SELECT CAST(_PARTITIONDATE AS STRING) AS day, COUNT(*) AS n FROM {t} GROUP BY 1"
        return {r["day"]: r["n"] for r in self.rows(sql)}

    def tables(self) -> set[str]:
        hook = BigQueryLoadHook(api_deadline=DEADLINE)
        return {t.table_id for t in hook.client(self.project).list_tables(f"{self.project}.{self.dataset}")}


def new_dataset(project: str) -> str:
    name = f"gate_{uuid.uuid4().hex[:8]}"
    BigQueryLoadHook(api_deadline=DEADLINE).client(project).create_dataset(f"{project}.{name}")
    return name
