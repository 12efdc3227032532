"""The ``bigquery:`` section of a table's YAML: where its snapshots are loaded. Pure: imports no Airflow.

``core.config.table_config`` reads and validates the YAML and imports these settings from here, so the destination's
settings live in its folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from ddb_lake.destinations.bigquery.load_job import LAYOUTS
from ddb_lake.destinations.bigquery.transfer_job import TRANSFER_METHODS

BIGQUERY_LAYOUTS = LAYOUTS
"""The table layouts a load can write (see ``load_job``): ``partitioned``, ``sharded``, ``latest``."""
BIGQUERY_TRANSFER_METHODS = TRANSFER_METHODS
"""How snapshots reach GCS: ``stream`` (through the worker), ``storage_transfer`` (the service copies), ``auto``."""


@dataclass(frozen=True)
class BigQuerySettings:
    project: str
    dataset: str
    gcs_bucket: str
    table: str = ""
    location: str = "US"
    layout: str = "partitioned"
    transfer_method: str = "stream"
    partition_expiration_days: int = 0  # 0: partitions never expire
    force_rerun: bool = False  # load again even when this interval's load job already finished
