"""BigQuery calls of the snapshot load: tables, one load job per snapshot (submitted once, reattached after), counts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from functools import cached_property
from typing import Any

from ddb_lake.compat import AirflowException, BaseHook
from ddb_lake.core.errors import TERMINAL_REASONS, NotFoundError, ServiceError, classify_reason
from ddb_lake.destinations.bigquery.count_sql import count_sql, key_checksum_sql
from ddb_lake.destinations.bigquery.load_job import BigQueryDestination
from ddb_lake.destinations.bigquery.schema import normalized_type
from ddb_lake.destinations.bigquery.widening import widen_schema

RUNNING_STATES = ("PENDING", "RUNNING")
STAGING_DESCRIPTION = "ddb-lake staging copy, validated then copied into place by the publish step; load job: "
DEFAULT_API_DEADLINE = 120.0
"""Seconds the google clients keep retrying one call on a transient error (their own default is 600)."""


@dataclass(frozen=True)
class SubmittedJob:
    """A load job as found or submitted: ``how`` is ``submitted``, ``reattached`` (running) or ``finished`` (done)."""

    job_id: str
    state: str
    how: str
    generation: int


class BigQueryLoadHook(BaseHook):
    """Wraps the google provider's BigQueryHook client for ddb-lake's load jobs and count queries."""

    def __init__(
        self,
        gcp_conn_id: str = "google_cloud_default",
        location: str | None = None,
        api_deadline: float = DEFAULT_API_DEADLINE,
        impersonation_chain: str | Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.gcp_conn_id = gcp_conn_id
        self.location = location
        self.api_deadline = api_deadline
        self.impersonation_chain = impersonation_chain

    @cached_property
    def provider_hook(self) -> Any:
        from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

        return BigQueryHook(
            gcp_conn_id=self.gcp_conn_id,
            location=self.location,
            use_legacy_sql=False,
            impersonation_chain=self.impersonation_chain,
        )

    @cached_property
    def retry(self) -> Any:
        from google.cloud.bigquery.retry import DEFAULT_RETRY

        return DEFAULT_RETRY.with_deadline(self.api_deadline) if self.api_deadline else DEFAULT_RETRY

    def client(self, project: str) -> Any:
        return self.provider_hook.get_client(project_id=project, location=self.location)

    def table_fields(self, project: str, dataset: str, table: str) -> list[dict[str, Any]] | None:
        """The table's schema fields (API form), or None when the table does not exist."""
        from google.api_core.exceptions import NotFound

        try:
            found = self.client(project).get_table(f"{project}.{dataset}.{table}", retry=self.retry)
        except NotFound:
            return None
        return [f.to_api_repr() for f in found.schema]

    def ensure_table(
        self,
        destination: BigQueryDestination,
        day: date,
        fields: list[dict[str, Any]],
        *,
        partition_expiration_days: int | None = None,
        description: str = "",
    ) -> bool:
        """Create the destination table when missing (ingestion-time DAY partitions for ``partitioned``).

        Returns True when the table was created. Creating it before the first load keeps the partitioning and the
        column descriptions under ddb-lake's control instead of a load job's defaults. The dataset must exist
        (:meth:`check_dataset`): creating it would turn a typo into a green run into a new dataset.
        """
        from google.cloud import bigquery

        client = self.client(destination.project)
        self.check_dataset(destination)
        table_id = destination.base_table_id(day)
        table = bigquery.Table(
            f"{destination.project}.{destination.dataset}.{table_id}",
            schema=[bigquery.SchemaField.from_api_repr(f) for f in fields],
        )
        table.description = description or None
        if destination.layout == "partitioned":
            expiration_ms = partition_expiration_days * 86_400_000 if partition_expiration_days else None
            table.time_partitioning = bigquery.TimePartitioning(type_="DAY", expiration_ms=expiration_ms)
        before = self.table_fields(destination.project, destination.dataset, table_id)
        if before is not None:
            return False
        client.create_table(table, exists_ok=True, retry=self.retry)
        self.log.info("Created BigQuery table %s.%s.%s", destination.project, destination.dataset, table_id)
        return True

    def ensure_staging_table(
        self, staging: BigQueryDestination, fields: list[dict[str, Any]], *, expire_days: int
    ) -> bool:
        """Create the plain staging table with ``fields`` (expiring after ``expire_days``); True when it was (re)made.

        A staging table with other columns (an earlier attempt before a schema change) is dropped and made again.
        """
        from datetime import datetime, timedelta

        from google.cloud import bigquery

        table_id = f"{staging.project}.{staging.dataset}.{staging.table}"
        found = self.table_fields(staging.project, staging.dataset, staging.table)
        if found is not None and _same_columns(found, fields):
            return False
        client = self.client(staging.project)
        if found is not None:
            self.log.info("Staging table %s has other columns than this snapshot: dropping it", table_id)
            client.delete_table(table_id, not_found_ok=True, retry=self.retry)
        table = bigquery.Table(table_id, schema=[bigquery.SchemaField.from_api_repr(f) for f in fields])
        table.expires = datetime.now(UTC) + timedelta(days=expire_days)
        table.description = STAGING_DESCRIPTION
        client.create_table(table, exists_ok=True, retry=self.retry)
        self.log.info("Created staging table %s (expires in %s days)", table_id, expire_days)
        return True

    def widen_table(
        self,
        destination: BigQueryDestination,
        day: date,
        fields: list[dict[str, Any]],
        *,
        partition_expiration_days: int | None = None,
        description: str = "",
    ) -> list[dict[str, Any]]:
        """Create the destination with ``fields``, or widen it to them (``widening.widen_schema``); the changes made.

        Type changes go through DDL (``ALTER COLUMN … SET DATA TYPE``, the only way BigQuery changes a type); new
        columns and RECORD members through a schema update (``tables.patch``), which keeps the table's data.
        """
        from google.cloud import bigquery

        created = self.ensure_table(
            destination, day, fields, partition_expiration_days=partition_expiration_days, description=description
        )
        table_id = destination.base_table_id(day)
        existing = None if created else self.table_fields(destination.project, destination.dataset, table_id)
        plan = widen_schema(existing, fields, table=f"{destination.dataset}.{table_id}")
        qualified = f"{destination.project}.{destination.dataset}.{table_id}"
        for change in plan.widenings:
            if change.kind == "versioned_column":
                raise AirflowException(f"{qualified}: versioned column {change.target} missing from the staged schema")
            if change.kind == "set_data_type":
                self.run_statement(
                    destination.project,
                    f"ALTER TABLE `{qualified}` ALTER COLUMN `{change.column}` SET DATA TYPE {change.new_type}",
                )
        if any(change.kind in ("add_column", "add_member") for change in plan.widenings):
            client = self.client(destination.project)
            table = client.get_table(qualified, retry=self.retry)
            table.schema = [bigquery.SchemaField.from_api_repr(f) for f in plan.fields]
            client.update_table(table, ["schema"], retry=self.retry)
        for change in plan.widenings:
            self.log.info("Widened %s: %s", qualified, change.change)
        return [change.to_dict() for change in plan.widenings]

    def run_statement(self, project: str, sql: str) -> None:
        """Run one DDL or DML statement and wait for it."""
        self.log.info("BigQuery: %s", sql)
        job = self.client(project).query(sql, project=project, location=self.location, retry=self.retry, job_retry=None)
        job.result(retry=self.retry)

    def record_staging_load(self, staging: BigQueryDestination, job_id: str) -> None:
        """Write into the staging table's description which load job fills it (read by :meth:`staging_load`)."""
        client = self.client(staging.project)
        table = client.get_table(f"{staging.project}.{staging.dataset}.{staging.table}", retry=self.retry)
        table.description = f"{STAGING_DESCRIPTION}{job_id}"
        client.update_table(table, ["description"], retry=self.retry)

    def staging_load(self, staging: BigQueryDestination, *, reuse_finished: bool = True) -> SubmittedJob | None:
        """The load job that filled the staging table, when it is running (reattach) or finished well (reuse)."""
        table = self.client(staging.project).get_table(
            f"{staging.project}.{staging.dataset}.{staging.table}", retry=self.retry
        )
        description = table.description or ""
        if not description.startswith(STAGING_DESCRIPTION):
            return None
        job_id = description[len(STAGING_DESCRIPTION):].strip()
        job = self.find_job(staging.project, job_id) if job_id else None
        verdict = _verdict(job, not reuse_finished) if job is not None else None
        if verdict is None:
            return None
        self.log.info("Staging table %s was filled by load job %s (%s): %s", staging.table, job_id, job.state, verdict)
        return SubmittedJob(job_id, job.state, verdict, 0)

    def delete_table(self, project: str, dataset: str, table: str) -> None:
        self.client(project).delete_table(f"{project}.{dataset}.{table}", not_found_ok=True, retry=self.retry)
        self.log.info("Dropped BigQuery table %s.%s.%s", project, dataset, table)

    def table_labels(self, project: str, dataset: str, table: str) -> dict[str, str]:
        return dict(self.client(project).get_table(f"{project}.{dataset}.{table}", retry=self.retry).labels or {})

    def set_labels(self, project: str, dataset: str, table: str, labels: dict[str, str]) -> None:
        client = self.client(project)
        found = client.get_table(f"{project}.{dataset}.{table}", retry=self.retry)
        found.labels = {**(found.labels or {}), **labels}
        client.update_table(found, ["labels"], retry=self.retry)

    def check_dataset(self, destination: BigQueryDestination) -> None:
        """Raise :class:`NotFoundError` (terminal) naming the dataset, the YAML field and the fix when it is missing."""
        from google.api_core.exceptions import NotFound

        dataset = f"{destination.project}.{destination.dataset}"
        try:
            self.client(destination.project).get_dataset(dataset, retry=self.retry)
        except NotFound as exc:
            location = self.location or "US"
            raise NotFoundError(
                f"BigQuery dataset {dataset} does not exist (table file field bigquery.dataset, loading table "
                f"{destination.table}); ddb-lake does not create datasets, so a misspelt name cannot load into a new "
                f"one. Fix: correct bigquery.dataset, or create the dataset in bigquery.location {location}: "
                f"bq mk --dataset --location={location} {destination.project}:{destination.dataset}"
            ) from exc

    def find_job(self, project: str, job_id: str) -> Any | None:
        from google.api_core.exceptions import NotFound

        try:
            return self.client(project).get_job(job_id, project=project, location=self.location, retry=self.retry)
        except NotFound:
            return None

    def submit_or_reattach(
        self,
        project: str,
        configuration: dict[str, Any],
        job_id_for: Callable[[int], str],
        *,
        force_rerun: bool = False,
        max_generations: int = 20,
    ) -> SubmittedJob:
        """Submit the job under the first free deterministic id, or reattach to the one an earlier try submitted.

        Generation 0 is tried first. A job of that id that is running is reattached to; one that finished well is
        reused (the same configuration and source files, so loading again would write the same rows) unless
        ``force_rerun``; one that failed moves on to the next generation's id. A 409 on insert (another worker was
        faster) is handled the same way as finding the job first.
        """
        from google.api_core.exceptions import Conflict

        for generation in range(max_generations):
            job_id = job_id_for(generation)
            job = self.find_job(project, job_id)
            if job is None:
                try:
                    self.provider_hook.insert_job(
                        configuration=configuration,
                        job_id=job_id,
                        project_id=project,
                        location=self.location,
                        nowait=True,
                        retry=self.retry,
                    )
                    self.log.info("Submitted BigQuery job %s", job_id)
                    return SubmittedJob(job_id, "PENDING", "submitted", generation)
                except Conflict:
                    job = self.find_job(project, job_id)
                    if job is None:
                        raise
            verdict = _verdict(job, force_rerun)
            if verdict is not None:
                self.log.info("BigQuery job %s is %s: %s, not submitting another", job_id, job.state, verdict)
                return SubmittedJob(job_id, job.state, verdict, generation)
            self.log.info("BigQuery job %s is %s (%s); trying the next id", job_id, job.state, job.error_result)
        raise AirflowException(f"{max_generations} BigQuery job ids already used ({job_id_for(0)}...): giving up")

    def job_status(self, project: str, job_id: str) -> dict[str, Any]:
        """``{"state", "error"}`` of a job (error is the error result's message when it failed)."""
        job = self._existing_job(project, job_id)
        error = job.error_result.get("message", str(job.error_result)) if job.error_result else None
        return {"state": job.state, "error": error, "errors": job.errors or []}

    def wait_for_job(self, project: str, job_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Block until the job is done; when it failed, raise its error sorted by BigQuery's reason (``job_error``)."""
        from google.api_core.exceptions import GoogleAPICallError

        job = self._existing_job(project, job_id)
        try:
            job.result(timeout=timeout, retry=self.retry)
        except GoogleAPICallError as exc:
            raise job_error(job_id, exc) from exc
        return self.job_status(project, job_id)

    def _existing_job(self, project: str, job_id: str) -> Any:
        job = self.find_job(project, job_id)
        if job is None:
            raise NotFoundError(f"BigQuery job {job_id} not found in project {project}")
        return job

    def scalar_row(self, project: str, sql: str) -> dict[str, Any]:
        """Run a standard SQL query that returns one row; return it as a dict."""
        from google.cloud import bigquery

        self.log.info("BigQuery: %s", sql)
        job = self.client(project).query(
            sql,
            job_config=bigquery.QueryJobConfig(use_legacy_sql=False),
            project=project,
            location=self.location,
            retry=self.retry,
            job_retry=None,
        )
        rows = list(job.result(retry=self.retry))
        if len(rows) != 1:
            raise AirflowException(f"expected one row from {sql!r}, got {len(rows)}")
        return dict(rows[0].items())

    def count_rows(self, destination: BigQueryDestination, day: date) -> int:
        sql = count_sql(destination.qualified(day), destination.partition_filter(day))
        return int(self.scalar_row(destination.project, sql)["row_count"])

    def key_checksum(
        self, destination: BigQueryDestination, day: date, key_columns: Sequence[tuple[str, str]]
    ) -> tuple[int, int]:
        """(rows, sum of key hashes) of one snapshot in BigQuery."""
        sql = key_checksum_sql(destination.qualified(day), key_columns, destination.partition_filter(day))
        row = self.scalar_row(destination.project, sql)
        return int(row["row_count"]), int(row["key_sum"])


def _same_columns(found: list[dict[str, Any]], fields: list[dict[str, Any]]) -> bool:
    """Same names, types and modes in the same order (descriptions do not matter)."""
    def shape(fs: list[dict[str, Any]]) -> list[tuple]:
        return [
            (f["name"].lower(), normalized_type(f), (f.get("mode") or "NULLABLE").upper(),
             tuple(shape(list(f.get("fields") or []))))
            for f in fs
        ]

    return shape(found) == shape(fields)


def _verdict(job: Any, force_rerun: bool) -> str | None:
    """``reattached`` / ``finished`` when the found job stands, None when a new generation must be submitted."""
    if job.state in RUNNING_STATES:
        return "reattached"
    if job.state == "DONE" and not job.error_result and not force_rerun:
        return "finished"
    return None


def job_error(job_id: str, error: Exception) -> ServiceError:
    """A failed job's error as a taxonomy error sorted by its reason (``invalid`` fails, ``backendError`` retries)."""
    reasons = [e.get("reason") for e in (getattr(error, "errors", None) or []) if isinstance(e, dict)]
    reason = next((r for r in reasons if r), None)
    status = getattr(error, "code", None)
    status = status if isinstance(status, int) else None
    message = f"BigQuery job {job_id} failed: {error}"
    fix = TERMINAL_REASONS.get(reason or "")
    return classify_reason(reason, status)(
        message + (f". Fix: {fix}" if fix else ""), service="BigQuery", reason=reason or "", status=status
    )
