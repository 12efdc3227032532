"""Load one snapshot from GCS into BigQuery with one load job: explicit schema, WRITE_TRUNCATE of its day."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import cached_property
from typing import Any

from ddb_lake.compat import BaseOperator, Context, run_attempt
from ddb_lake.core.errors import ConfigError, TransientError
from ddb_lake.core.lake.layout import parse_stamp
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.core.validation.snapshot_summary import snapshot_summary
from ddb_lake.destinations.bigquery.destination import NAME
from ddb_lake.destinations.bigquery.job_trigger import BigQueryJobTrigger
from ddb_lake.destinations.bigquery.load_hook import DEFAULT_API_DEADLINE, BigQueryLoadHook, SubmittedJob
from ddb_lake.destinations.bigquery.load_job import (
    DEFAULT_STAGING_DAYS,
    BigQueryDestination,
    attempt_seed,
    conf_forces_rerun,
    configuration_fingerprint,
    job_id_time,
    load_job_configuration,
    load_job_id,
    staging_table_id,
)
from ddb_lake.destinations.bigquery.schema import SchemaEvolution, bigquery_fields, evolve_schema
from ddb_lake.destinations.bigquery.widening import WidenedSchema, staging_fields, widen_schema
from ddb_lake.links import BigQueryJobLink, BigQueryTableLink
from ddb_lake.operators.base import ClassifiedErrors, keep_a_retry_for_deferral

_LABEL_UNSAFE = re.compile(r"[^a-z0-9_-]")


def label_value(text: str) -> str:
    """A BigQuery label value: lowercase letters, digits, ``_`` and ``-``, at most 63 characters."""
    return _LABEL_UNSAFE.sub("_", text.lower())[:63]


class BigQueryLoadSnapshotOperator(ClassifiedErrors, BaseOperator):
    """Load the snapshot the transfer task copied to GCS into ``dataset.table`` (see ``BigQueryDestination``).

    The table is created when missing (ingestion-time DAY partitions for the ``partitioned`` layout), the schema comes
    from the converter's lake schema (never autodetected), new columns are added, any narrowing change fails. The job
    id is deterministic, so a retry reattaches to the job an earlier try submitted instead of loading twice. The
    result names its destination (``"destination": "bigquery"``) for the validator and the run report.

    :param snapshot: the convert task's summary (``snapshot``, ``schema``), e.g. ``convert.output``.
    :param transfer: the transfer task's result (``uris``, ``files`` with their crc32c), e.g. ``transfer.output``.
    :param interval_end: ISO time of the run's interval end (the run plan's ``export_time``): seeds the job id;
        without it, the snapshot stamp does.
    :param stage: load into the run's staging table (``<table>__stage_<snapshot>``, expiring after ``staging_days``)
        instead of the destination; validation reads it and ``BigQueryPublishOperator`` copies it into place. The
        staging table names the load job that filled it (its description): a rerun reuses that job while the table
        is there and the job finished well; ``force_rerun`` (YAML, or ``{"force_rerun": true}`` in the run's conf)
        reloads anyway. A new load's job id is seeded with the run attempt, so a try that re-enters finds its own.
    """

    operator_extra_links = (BigQueryTableLink(), BigQueryJobLink())
    template_fields = ("snapshot", "transfer", "project_id", "dataset", "table", "layout", "interval_end")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        snapshot: dict[str, Any],
        transfer: dict[str, Any],
        project_id: str,
        dataset: str,
        table: str,
        layout: str = "partitioned",
        interval_end: str | None = None,
        gcp_conn_id: str = "google_cloud_default",
        location: str | None = None,
        partition_expiration_days: int | None = None,
        force_rerun: bool = False,
        stage: bool = False,
        staging_days: int | None = DEFAULT_STAGING_DAYS,
        deferrable: bool = False,
        poll_interval: float = 10.0,
        api_deadline: float = DEFAULT_API_DEADLINE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project_id = project_id
        self.dataset = dataset
        self.table = table
        self.layout = layout
        self.snapshot = snapshot
        self.transfer = transfer
        self.interval_end = interval_end
        self.gcp_conn_id = gcp_conn_id
        self.location = location
        self.partition_expiration_days = partition_expiration_days
        self.force_rerun = force_rerun
        self.stage = stage
        self.staging_days = staging_days
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.api_deadline = api_deadline
        keep_a_retry_for_deferral(self)

    @cached_property
    def hook(self) -> BigQueryLoadHook:
        return BigQueryLoadHook(self.gcp_conn_id, self.location, self.api_deadline)

    def execute(self, context: Context) -> dict[str, Any]:
        summary, transfer = snapshot_summary(self.snapshot, "snapshot", "schema"), self.transfer or {}
        if not isinstance(transfer, dict) or not transfer.get("uris"):
            raise ConfigError(f"task {self.task_id!r}: the transfer result holds no gs:// URIs to load: {transfer!r}")
        day = parse_stamp(summary["snapshot"]).date()
        destination = BigQueryDestination(self.project_id, self.dataset, self.table, self.layout)
        force_rerun = self.force_rerun or conf_forces_rerun(getattr(context.get("dag_run"), "conf", None))
        if self.stage:
            job, evolution, widened = self.staged_job(context, destination, day, summary, transfer, force_rerun)
        else:
            configuration, evolution = self.plan(destination, day, summary, transfer["uris"])
            job_ids = self.job_ids(context, summary, configuration, transfer)
            job = self.hook.submit_or_reattach(self.project_id, configuration, job_ids, force_rerun=force_rerun)
        result = self.load_result(job, destination, day, transfer["uris"], evolution)
        if self.stage:
            result.update(
                staging_table=staging_table_id(self.table, summary["snapshot"]), interval_end=self.interval_end,
                widened_fields=widened.fields, renames=widened.renames,
                widenings=[w.to_dict() for w in widened.widenings],
            )
        if job.how == "finished":
            return result
        if self.deferrable:
            self.defer(
                trigger=BigQueryJobTrigger(
                    job.job_id, self.project_id, self.location, self.gcp_conn_id, self.poll_interval, self.api_deadline
                ),
                method_name="execute_complete",
                kwargs={"result": result},
            )
        self.hook.wait_for_job(self.project_id, job.job_id)
        return result

    def job_ids(
        self, context: Context, summary: dict[str, Any], configuration: dict[str, Any], transfer: dict[str, Any],
        seed: str | None = None,
    ) -> Callable[[int], str]:
        """The deterministic job id of each generation: DAG, table, interval, configuration and files (and ``seed``)."""
        checksums = [f.get("crc32c", "") for f in transfer.get("files", [])] + ([seed] if seed else [])
        fingerprint = configuration_fingerprint(configuration, checksums)
        interval_end = job_id_time(self.interval_end, summary["snapshot"])
        dag_id = context["ti"].dag_id
        return lambda generation: load_job_id(dag_id, self.table, interval_end, fingerprint, generation)

    def staged_job(
        self, context: Context, destination: BigQueryDestination, day: date, summary: dict[str, Any],
        transfer: dict[str, Any], force_rerun: bool,
    ) -> tuple[SubmittedJob, SchemaEvolution, WidenedSchema]:
        """The load into the staging table: the job that filled it (reused unless forced), or a new one."""
        configuration, evolution, widened, remade = self.plan_staged(destination, day, summary, transfer["uris"])
        staging_id = staging_table_id(self.table, summary["snapshot"])
        staging = BigQueryDestination(self.project_id, self.dataset, staging_id, "latest")
        filled_by = None if remade else self.hook.staging_load(staging, reuse_finished=not force_rerun)
        if filled_by is not None:
            return filled_by, evolution, widened
        # A new load gets a job id of its own attempt: a try that re-enters after deferring finds it again.
        job_ids = self.job_ids(context, summary, configuration, transfer, seed=attempt_seed(*run_attempt(context)))
        job = self.hook.submit_or_reattach(self.project_id, configuration, job_ids)
        self.hook.record_staging_load(staging, job.job_id)
        return job, evolution, widened

    def load_result(
        self,
        job: SubmittedJob,
        destination: BigQueryDestination,
        day: date,
        uris: list[str],
        evolution: SchemaEvolution,
    ) -> dict[str, Any]:
        """The task's result: where the snapshot was loaded, by which job, and how the schema changed."""
        return {
            "destination": NAME,
            "job_id": job.job_id,
            "how": job.how,
            "project_id": self.project_id,
            "dataset": self.dataset,
            "table": self.table,
            "table_id": destination.table_id(day),
            "layout": self.layout,
            "day": day.isoformat(),
            "snapshot": self.snapshot["snapshot"],
            "uris": list(uris),
            "added_columns": list(evolution.added),
            "columns_not_in_snapshot": list(evolution.kept_missing),
        }

    def plan(
        self, destination: BigQueryDestination, day: date, summary: dict[str, Any], uris: list[str]
    ) -> tuple[dict[str, Any], SchemaEvolution]:
        """Create the table if missing, check schema evolution, and build the load job configuration."""
        fields = bigquery_fields(LakeSchema.from_json(summary["schema"]), table=self.table)
        description = f"DynamoDB table {self.table} mirrored by ddb-lake; one snapshot per day."
        self.hook.ensure_table(
            destination, day, fields, partition_expiration_days=self.partition_expiration_days, description=description
        )
        existing = self.hook.table_fields(destination.project, destination.dataset, destination.base_table_id(day))
        evolution = evolve_schema(existing, fields, table=f"{destination.dataset}.{destination.base_table_id(day)}")
        if evolution.added:
            self.log.info("Adding column(s) %s to %s", ", ".join(evolution.added), destination.base_table_id(day))
        if evolution.kept_missing:
            self.log.warning(
                "Column(s) %s are not in snapshot %s; they load as NULL",
                ", ".join(evolution.kept_missing),
                summary["snapshot"],
            )
        labels = {"ddb_lake_table": label_value(self.table), "ddb_lake_snapshot": label_value(summary["snapshot"])}
        configuration = load_job_configuration(
            destination, day, uris, evolution.fields, add_fields=evolution.needs_field_addition, labels=labels
        )
        return configuration, evolution

    def plan_staged(
        self, destination: BigQueryDestination, day: date, summary: dict[str, Any], uris: list[str]
    ) -> tuple[dict[str, Any], SchemaEvolution, WidenedSchema, bool]:
        """Widen the snapshot into the destination's schema, (re)create the staging table; True when it was (re)made.

        The staging table holds the destination's columns (plus new ones) in its order, so the publish copy matches.
        It is reloaded when it was missing or had other columns (dropped after an earlier publish, or a schema change).
        """
        fields = bigquery_fields(LakeSchema.from_json(summary["schema"]), table=self.table)
        self.hook.check_dataset(destination)
        existing = self.hook.table_fields(destination.project, destination.dataset, destination.base_table_id(day))
        widened = widen_schema(existing, fields, table=f"{destination.dataset}.{destination.base_table_id(day)}")
        for change in widened.widenings:
            self.log.info("BigQuery table %s widens at publish: %s", destination.base_table_id(day), change.change)
        staged = staging_fields(widened, fields)
        staging = BigQueryDestination(
            destination.project, destination.dataset, staging_table_id(self.table, summary["snapshot"]), "latest"
        )
        reload = self.hook.ensure_staging_table(staging, staged, expire_days=self.staging_days or DEFAULT_STAGING_DAYS)
        labels = {"ddb_lake_table": label_value(self.table), "ddb_lake_snapshot": label_value(summary["snapshot"])}
        snapshot_names = {f["name"].lower() for f in fields}
        evolution = SchemaEvolution(
            widened.fields,
            tuple(w.column for w in widened.widenings if w.kind in ("add_column", "add_member")),
            tuple(f["name"] for f in existing or () if f["name"].lower() not in snapshot_names),
        )
        return load_job_configuration(staging, day, uris, staged, labels=labels), evolution, widened, reload

    def execute_complete(
        self, context: Context, event: dict[str, Any], result: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if event.get("status") != "success":
            raise TransientError(event.get("message") or f"BigQuery job {event.get('job_id')} failed")
        if result is None:
            # Resumed with the event only (``airflow dags test`` drops the defer kwargs): the job id is
            # deterministic, so planning again finds the finished job and submits nothing.
            result = self.execute(context)
        self.log.info("BigQuery job %s done: %s loaded", event["job_id"], result["table_id"])
        return result
