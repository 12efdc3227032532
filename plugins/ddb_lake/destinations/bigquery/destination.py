"""BigQuery as a :class:`ddb_lake.destinations.Destination`: what the validator and the run report ask of it.

The row count and key checksum of a loaded snapshot are read with the load hook (``count_sql``'s queries); the run
report's lines are the S3 -> GCS staging copy (priced as AWS data transfer out) and the bytes the load job read (batch
loads are free). Importing this module imports no Airflow: the hook is built on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.core.validation.row_counts import CountSource
from ddb_lake.core.validation.run_report import PRICES_USD, VolumeLine
from ddb_lake.destinations.bigquery.load_job import BigQueryDestination
from ddb_lake.destinations.bigquery.schema import bigquery_fields

if TYPE_CHECKING:
    from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook

NAME = "bigquery"
LOAD_USD_PER_GB = 0.0
"""BigQuery batch load jobs are free; storage is billed monthly and is not a per-run cost."""


def loaded_table(load: Mapping[str, Any]) -> tuple[BigQueryDestination, date]:
    """The table and day a load task reported: its staging table when it loaded one (validation reads that copy)."""
    if load.get("staging_table"):
        table = BigQueryDestination(load["project_id"], load["dataset"], load["staging_table"], "latest")
    else:
        layout = load.get("layout", "partitioned")
        table = BigQueryDestination(load["project_id"], load["dataset"], load["table"], layout)
    return table, date.fromisoformat(load["day"])


def volume_lines(loads: Sequence[Mapping[str, Any]], transfers: Sequence[Mapping[str, Any]]) -> list[VolumeLine]:
    """The staging copy's bytes and the bytes loaded, each priced; no loads means nothing loaded."""
    staged = sum(int(t.get("bytes_total") or 0) for t in transfers)
    # A load job reads exactly the staged files: their total is the bytes loaded when the job does not say.
    loaded = (sum(int(load.get("bytes_loaded") or 0) for load in loads) or staged) if loads else 0
    copied = sum(int(t.get("bytes_copied") or 0) for t in transfers)
    return [
        VolumeLine("transfer_bytes", copied, "", "s3_to_gcs_transfer", PRICES_USD["aws_transfer_out_per_gb"]),
        VolumeLine("bigquery_bytes_loaded", loaded, "bigquery bytes loaded", "bigquery_load", LOAD_USD_PER_GB),
    ]


class BigQuery:
    """The BigQuery destination, built from the validator's ``gcp_conn_id``, ``location`` and ``api_deadline``."""

    name = NAME

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.gcp_conn_id = settings.get("gcp_conn_id") or "google_cloud_default"
        self.location = settings.get("location")
        self.api_deadline = settings.get("api_deadline")

    @cached_property
    def hook(self) -> BigQueryLoadHook:
        from ddb_lake.destinations.bigquery.load_hook import DEFAULT_API_DEADLINE, BigQueryLoadHook

        deadline = DEFAULT_API_DEADLINE if self.api_deadline is None else self.api_deadline
        return BigQueryLoadHook(self.gcp_conn_id, self.location, deadline)

    def row_count(self, load: Mapping[str, Any]) -> CountSource:
        table, day = loaded_table(load)
        staging = load.get("staging_table")
        note = f"staging {staging} for {load['table_id']}" if staging else load["table_id"]
        return CountSource(self.name, self.hook.count_rows(table, day), note=str(note))

    def key_checksum(self, load: Mapping[str, Any], key_columns: Sequence[str], schema: LakeSchema) -> tuple[int, int]:
        types = {f["name"]: f["type"] for f in bigquery_fields(schema)}
        table, day = loaded_table(load)
        return self.hook.key_checksum(table, day, [(k, types[k]) for k in key_columns])

    def volume_lines(
        self, loads: Sequence[Mapping[str, Any]], transfers: Sequence[Mapping[str, Any]]
    ) -> list[VolumeLine]:
        return volume_lines(loads, transfers)
