"""The ``bigquery:`` section of a table's YAML: where its snapshots are loaded. Pure: imports no Airflow.

``core.config.table_config`` reads and validates the YAML and imports these settings from here, so the destination's
settings live in its folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from ddb_lake.destinations.bigquery.load_job import LAYOUTS

BIGQUERY_LAYOUTS = LAYOUTS
"""The table layouts a load can write (see ``load_job``): ``partitioned``, ``sharded``, ``latest``."""


@dataclass(frozen=True)
class BigQuerySettings:
    project: str
    dataset: str
    gcs_bucket: str
    table: str = ""
    location: str = "US"
    layout: str = "partitioned"
