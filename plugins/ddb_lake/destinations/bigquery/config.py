"""The ``bigquery:`` section of a table's YAML: where its snapshots are loaded. Pure: imports no Airflow.

``core.config.table_config`` reads and validates the YAML and imports these settings from here, so the destination's
settings live in its folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ddb_lake.core.config.bucket_names import gcs_bucket_problem
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
    staging_days: int | None = 7  # GCS lifecycle: staged copies are deleted this many days after upload (null: kept)


_DATASET = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
_TABLE = re.compile(r"^[\w\- ]{1,1024}$")


def bigquery_problems(settings: BigQuerySettings) -> list[tuple[str, str | None]]:
    """``(dotted field, problem or None)`` for the ``bigquery:`` section (choices are checked by the caller)."""
    return [
        ("bigquery.gcs_bucket", gcs_bucket_problem(settings.gcs_bucket)),
        ("bigquery.dataset", None if _DATASET.match(settings.dataset)
         else f"{settings.dataset!r} may hold only letters, digits and underscores"),
        ("bigquery.table", None if not settings.table or _TABLE.match(settings.table)
         else f"{settings.table!r} may hold only letters, digits, underscores, dashes and spaces"),
        ("bigquery.partition_expiration_days", "must be >= 0 (0: never expire)"
         if settings.partition_expiration_days < 0 else None),
        ("bigquery.staging_days", f"{settings.staging_days} must be >= 1 (or null to keep staged copies)"
         if settings.staging_days is not None and settings.staging_days < 1 else None),
    ]
