"""Publish a validated BigQuery staging table: widen the destination, copy over the day (one free copy job), drop it."""

from __future__ import annotations

from datetime import date
from functools import cached_property
from typing import Any

from ddb_lake.compat import AirflowSkipException, BaseOperator, Context, data_interval_of
from ddb_lake.core.errors import NotFoundError
from ddb_lake.destinations.bigquery.load_hook import DEFAULT_API_DEADLINE, BigQueryLoadHook
from ddb_lake.destinations.bigquery.load_job import (
    INTERVAL_LABEL,
    BigQueryDestination,
    copy_job_configuration,
    interval_label,
    newer_interval_live,
)
from ddb_lake.destinations.bigquery.load_operator import label_value
from ddb_lake.destinations.bigquery.widening import WidenedSchema, contract_view_sql, reshape_sql
from ddb_lake.operators.base import ClassifiedErrors


class BigQueryPublishOperator(ClassifiedErrors, BaseOperator):
    """Move the load task's validated staging table into place; the BigQuery asset event fires here, not at load.

    Runs after validation, so BigQuery consumers see a snapshot only once every copy agreed. Steps: (``latest``) skip
    when the table already holds a newer interval (its ``ddb_lake_interval`` label); create or widen the destination
    to the staged columns (``BigQueryLoadHook.widen_table``); one copy job with ``WRITE_TRUNCATE`` into the day's
    partition (``t$YYYYMMDD``), day table or whole table (atomic: readers see the old or the new rows); label a
    ``latest`` table with its interval; drop the staging table. The copy job id is the load job's plus ``_publish``,
    so a retry reattaches instead of copying twice. The result (and the asset event's extra) holds the facts.

    :param load: the load task's result (``staging_table``, ``table``, ``layout``, ``day``, ``job_id``...).
    :param interval_start: ISO start of the run's data interval for the event's facts (default: the run's).
    """

    template_fields = ("load", "interval_start")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        load: dict[str, Any],
        interval_start: str | None = None,
        partition_expiration_days: int | None = None,
        gcp_conn_id: str = "google_cloud_default",
        location: str | None = None,
        api_deadline: float = DEFAULT_API_DEADLINE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.load = load
        self.interval_start = interval_start
        self.partition_expiration_days = partition_expiration_days
        self.gcp_conn_id = gcp_conn_id
        self.location = location
        self.api_deadline = api_deadline

    @cached_property
    def hook(self) -> BigQueryLoadHook:
        return BigQueryLoadHook(self.gcp_conn_id, self.location, self.api_deadline)

    def execute(self, context: Context) -> dict[str, Any]:
        load, day = self.load, date.fromisoformat(self.load["day"])
        destination = BigQueryDestination(load["project_id"], load["dataset"], load["table"], load["layout"])
        staging = BigQueryDestination(load["project_id"], load["dataset"], load["staging_table"], "latest")
        interval = interval_label(load.get("interval_end"), load["snapshot"])
        copy_base = f"{load['job_id']}_publish"
        copy_id = f"{copy_base}_g0"
        staged = self.hook.table_fields(staging.project, staging.dataset, staging.table)
        if staged is None:
            job, rows = self.published_before(destination, day, staging, copy_id)
            return self.done(context, load, destination, day, job.job_id, rows, load.get("widenings", []))
        self.refuse_older_interval(destination, staging, interval)
        rows = self.hook.count_rows(staging, day)
        target = load.get("widened_fields") or staged
        applied = self.hook.widen_table(
            destination, day, target, partition_expiration_days=self.partition_expiration_days,
            description=f"DynamoDB table {destination.table} mirrored by ddb-lake.",
        )
        source = self.reshaped(staging, target, load.get("renames") or {})
        copy = copy_job_configuration(source, destination, day)
        job = self.hook.submit_or_reattach(destination.project, copy, lambda g: f"{copy_base}_g{g}")
        self.hook.wait_for_job(destination.project, job.job_id)
        self.after_copy(destination, day, interval, load["snapshot"])
        for table in {staging.table, source.table}:
            self.hook.delete_table(staging.project, staging.dataset, table)
        # the widenings as the load planned them (a versioned column, not its "add column")
        return self.done(context, load, destination, day, job.job_id, rows, load.get("widenings", applied))

    def done(
        self, context: Context, load: dict[str, Any], destination: BigQueryDestination, day: date, copy_job_id: str,
        rows: int, widenings: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The publish's facts: the task's result and its asset events' extra."""
        facts = {
            "destination": "bigquery",
            "table": f"{destination.project}.{destination.dataset}.{destination.table_id(day)}",
            "location": self.location or "US", "layout": destination.layout, "snapshot": load["snapshot"],
            "interval_start": self.interval_start or _iso(data_interval_of(context)[0]),
            "interval_end": load.get("interval_end") or _iso(data_interval_of(context)[1]), "rows": rows,
            "copy_job_id": copy_job_id, "load_job_id": load["job_id"], "widenings": widenings,
        }
        self.log.info("Published %s rows of snapshot %s to %s (copy job %s)", rows, load["snapshot"], facts["table"],
                      copy_job_id)
        self.attach_event_extra(context, facts)
        return facts

    def published_before(
        self, destination: BigQueryDestination, day: date, staging: BigQueryDestination, copy_id: str
    ) -> tuple[Any, int]:
        """A retry after the staging table was dropped: the copy job that published it, and the rows now in place."""
        job = self.hook.find_job(destination.project, copy_id)
        if job is None or job.state != "DONE" or job.error_result:
            raise NotFoundError(
                f"BigQuery staging table {staging.dataset}.{staging.table} is gone (expired or dropped) before publish "
                f"of {destination.dataset}.{destination.table_id(day)}: rerun the run's bigquery.load task."
            )
        self.log.info("Copy job %s already published this snapshot; its staging table is dropped", copy_id)
        return job, self.hook.count_rows(destination, day)

    def reshaped(
        self, staging: BigQueryDestination, fields: list[dict[str, Any]], renames: dict[str, str]
    ) -> BigQueryDestination:
        """The table to copy from: the staging table, or (with versioned columns) its rows in the table's shape."""
        target = BigQueryDestination(staging.project, staging.dataset, f"{staging.table}__shaped", "latest")
        sql = reshape_sql(staging.qualified(date.min), target.qualified(date.min), WidenedSchema(fields, (), renames))
        if sql is None:
            return staging
        self.hook.run_statement(staging.project, sql)
        return target

    def after_copy(self, destination: BigQueryDestination, day: date, interval: str, snapshot: str) -> None:
        """Label a ``latest`` table with its interval; (re)write the contract view when columns are versioned."""
        table_id = destination.base_table_id(day)
        if destination.layout == "latest":
            labels = {INTERVAL_LABEL: interval, "ddb_lake_snapshot": label_value(snapshot)}
            self.hook.set_labels(destination.project, destination.dataset, table_id, labels)
        if destination.layout != "sharded":
            fields = self.hook.table_fields(destination.project, destination.dataset, table_id) or []
            view = contract_view_sql(destination.project, destination.dataset, table_id, fields)
            if view:
                self.hook.run_statement(destination.project, view)

    def refuse_older_interval(
        self, destination: BigQueryDestination, staging: BigQueryDestination, interval: str
    ) -> None:
        """``latest``: skip (no copy, no asset event) when the table holds a newer interval; drop the staging table."""
        if destination.layout != "latest":
            return
        if self.hook.table_fields(destination.project, destination.dataset, destination.table) is None:
            return
        live = self.hook.table_labels(destination.project, destination.dataset, destination.table).get(INTERVAL_LABEL)
        refusal = newer_interval_live(live, interval, f"{destination.dataset}.{destination.table}")
        if refusal:
            self.hook.delete_table(staging.project, staging.dataset, staging.table)
            raise AirflowSkipException(refusal)

    def attach_event_extra(self, context: Context, facts: dict[str, Any]) -> None:
        """Put the facts on this task's asset events (``outlet_events[asset].extra``) so consumers read them."""
        events = context.get("outlet_events")
        if events is None:
            return
        for outlet in self.outlets or ():
            events[outlet].extra = {k: v for k, v in facts.items() if k != "widenings"} | {
                "widenings": [w["change"] for w in facts["widenings"]]
            }


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)
