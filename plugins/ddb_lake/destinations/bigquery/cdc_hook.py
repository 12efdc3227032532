"""BigQuery calls of the CDC apply: the position table, a Parquet file loaded from the worker into the staging table,
and the apply transaction (``run_statement``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ddb_lake.destinations.bigquery.cdc_sql import STATE_FIELDS, state_sql
from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook, job_error
from ddb_lake.destinations.bigquery.load_job import DECIMAL_TARGET_TYPES


class BigQueryCdcHook(BigQueryLoadHook):
    """The load hook plus what a staged MERGE per micro-batch needs."""

    def applied_state(self, project: str, dataset: str, state_table: str) -> dict[str, Any] | None:
        """``{"iceberg_snapshot_id", "position"}`` BigQuery last applied, or None (no state table or no row)."""
        from google.api_core.exceptions import NotFound

        sql = state_sql(f"{project}.{dataset}.{state_table}")
        try:
            rows = list(self.client(project).query(sql, project=project, location=self.location, retry=self.retry,
                                                   job_retry=None).result(retry=self.retry))
        except NotFound:
            return None
        return dict(rows[0].items()) if rows else None

    def ensure_state_table(self, project: str, dataset: str, state_table: str) -> None:
        from google.cloud import bigquery

        if self.table_fields(project, dataset, state_table) is not None:
            return
        table = bigquery.Table(f"{project}.{dataset}.{state_table}",
                               schema=[bigquery.SchemaField.from_api_repr(f) for f in STATE_FIELDS])
        table.description = "ddb-lake CDC: the Iceberg snapshot and change file this dataset's table last applied"
        self.client(project).create_table(table, exists_ok=True, retry=self.retry)

    def load_parquet_file(self, project: str, dataset: str, table: str, path: Path,
                          fields: list[dict[str, Any]]) -> str:
        """Replace ``table``'s rows with one local Parquet file (a load job: free, exact decimals); its job id."""
        from google.api_core.exceptions import GoogleAPICallError
        from google.cloud import bigquery

        config = bigquery.LoadJobConfig.from_api_repr({"load": {
            "sourceFormat": "PARQUET", "writeDisposition": "WRITE_TRUNCATE", "createDisposition": "CREATE_NEVER",
            "schema": {"fields": fields}, "autodetect": False,
            "parquetOptions": {"enableListInference": True, "enumAsString": True},
            "decimalTargetTypes": list(DECIMAL_TARGET_TYPES)}})
        with path.open("rb") as source:
            job = self.client(project).load_table_from_file(source, f"{project}.{dataset}.{table}",
                                                            job_config=config, location=self.location)
        try:
            job.result(retry=self.retry)
        except GoogleAPICallError as exc:
            raise job_error(job.job_id, exc) from exc
        self.log.info("Loaded %s into %s.%s.%s (job %s)", path.name, project, dataset, table, job.job_id)
        return job.job_id
