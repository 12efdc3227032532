"""The BigQuery load job of one snapshot: where it goes, its exact job configuration, and its deterministic job id.

Layouts of the BigQuery table (``BigQueryDestination.layout``):

- ``partitioned`` (default): one ingestion-time, day-partitioned table; each snapshot is loaded into the partition of
  its day with a decorator (``orders$20261122``) and ``WRITE_TRUNCATE``, so a rerun or backfill replaces exactly that
  partition. Loads are free; no DML is billed.
- ``sharded``: one table per snapshot day (``orders_20261122``), ``WRITE_TRUNCATE``; for users who want per-day tables
  with their own expiration, and for stand-ins that take no partition decorators.
- ``latest``: one table that always holds the newest snapshot (whole-table ``WRITE_TRUNCATE``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ddb_lake.core.errors import ConfigError
from ddb_lake.core.export.rules import to_datetime
from ddb_lake.core.lake.layout import parse_stamp

LAYOUTS = ("partitioned", "sharded", "latest")
DECIMAL_TARGET_TYPES = ("NUMERIC", "BIGNUMERIC", "STRING")
_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class BigQueryConfigError(ConfigError, ValueError):
    """A BigQuery setting is invalid (an unknown layout)."""


@dataclass(frozen=True)
class BigQueryDestination:
    """The table (and partition) one snapshot is loaded into."""

    project: str
    dataset: str
    table: str
    layout: str = "partitioned"

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise BigQueryConfigError(f"unknown BigQuery layout {self.layout!r}; expected one of {', '.join(LAYOUTS)}")

    def table_id(self, day: date) -> str:
        """The ``tableId`` of the load's destination: ``t$YYYYMMDD``, ``t_YYYYMMDD`` or ``t``."""
        if self.layout == "partitioned":
            return f"{self.table}${day:%Y%m%d}"
        if self.layout == "sharded":
            return f"{self.table}_{day:%Y%m%d}"
        return self.table

    def base_table_id(self, day: date) -> str:
        """The table that exists in the dataset (no decorator)."""
        return self.table_id(day).split("$", 1)[0]

    def partition_filter(self, day: date) -> str:
        """The WHERE clause that selects exactly this snapshot's rows (empty when the table holds only them)."""
        return f"_PARTITIONDATE = DATE '{day:%Y-%m-%d}'" if self.layout == "partitioned" else ""

    def qualified(self, day: date) -> str:
        return f"`{self.project}.{self.dataset}.{self.base_table_id(day)}`"


def load_job_configuration(
    destination: BigQueryDestination,
    day: date,
    source_uris: list[str],
    fields: list[dict[str, Any]],
    *,
    add_fields: bool = False,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ``configuration`` of the load job (REST form): explicit schema, Parquet, WRITE_TRUNCATE, never autodetect."""
    if not source_uris:
        raise ValueError(f"no source files to load into {destination.dataset}.{destination.table_id(day)}")
    load: dict[str, Any] = {
        "sourceUris": list(source_uris),
        "sourceFormat": "PARQUET",
        "destinationTable": {
            "projectId": destination.project,
            "datasetId": destination.dataset,
            "tableId": destination.table_id(day),
        },
        "schema": {"fields": fields},
        "autodetect": False,
        "writeDisposition": "WRITE_TRUNCATE",
        "createDisposition": "CREATE_IF_NEEDED",
        "parquetOptions": {"enableListInference": True, "enumAsString": True},
        "decimalTargetTypes": list(DECIMAL_TARGET_TYPES),
    }
    if destination.layout == "partitioned":
        load["timePartitioning"] = {"type": "DAY"}
        if add_fields:
            # Valid only with WRITE_APPEND or a WRITE_TRUNCATE into a partition; elsewhere WRITE_TRUNCATE replaces the
            # whole table schema anyway.
            load["schemaUpdateOptions"] = ["ALLOW_FIELD_ADDITION"]
    config: dict[str, Any] = {"load": load}
    if labels:
        config["labels"] = dict(labels)
    return config


def configuration_fingerprint(configuration: dict[str, Any], source_checksums: list[str] | None = None) -> str:
    """12 hex digits of the SHA-256 of the canonical configuration plus the source files' checksums."""
    payload = json.dumps({"configuration": configuration, "sources": sorted(source_checksums or [])}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def job_id_time(interval_end: str | None, snapshot: str) -> datetime:
    """The time a load job id is seeded with: the run's interval end (ISO), else the snapshot stamp's time."""
    return to_datetime(interval_end) if interval_end else parse_stamp(snapshot)


def load_job_id(dag_id: str, table: str, interval_end: datetime | date, fingerprint: str, generation: int = 0) -> str:
    """``ddb_lake_<dag>_<table>_<YYYYMMDDTHHMMSS>_<fingerprint>_g<generation>`` with unsafe characters as ``_``.

    The same (DAG, table, interval, configuration, files) gives the same id on every try, so a retry finds the job
    an earlier try submitted; ``generation`` moves on only when that job failed (or a rerun is forced).
    """
    stamp = interval_end.strftime("%Y%m%dT%H%M%S") if isinstance(interval_end, datetime) else f"{interval_end:%Y%m%d}"
    raw = f"ddb_lake_{dag_id}_{table}_{stamp}_{fingerprint}_g{generation}"
    return _JOB_ID_UNSAFE.sub("_", raw)[:1024]


STAGE_INFIX = "__stage_"
DEFAULT_STAGING_DAYS = 7
"""A staging table expires this many days after its load when the YAML keeps staged copies (``staging_days: null``)."""


def staging_table_id(table: str, snapshot: str) -> str:
    """``orders__stage_20261122t000000z``: the table one run's snapshot is loaded into and validated in."""
    return _JOB_ID_UNSAFE.sub("_", f"{table}{STAGE_INFIX}{snapshot}".lower())[:1024]


def copy_job_configuration(staging: BigQueryDestination, destination: BigQueryDestination, day: date) -> dict[str, Any]:
    """The publish step: one copy job (free) from the validated staging table over the day's partition or table."""
    return {
        "copy": {
            "sourceTable": {"projectId": staging.project, "datasetId": staging.dataset, "tableId": staging.table},
            "destinationTable": {
                "projectId": destination.project,
                "datasetId": destination.dataset,
                "tableId": destination.table_id(day),
            },
            "writeDisposition": "WRITE_TRUNCATE",
            "createDisposition": "CREATE_NEVER",
        }
    }


def conf_forces_rerun(conf: Any) -> bool:
    """True when a run's conf asks for a reload: ``{"force_rerun": true}`` (also ``"true"``, ``"1"``, ``"yes"``)."""
    value = conf.get("force_rerun") if isinstance(conf, dict) else None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def attempt_seed(run_id: str, try_number: int) -> str:
    """What a reload's job id is seeded with: new for every run and retry, the same when one try re-enters."""
    return f"attempt:{run_id}:{try_number}"


INTERVAL_LABEL = "ddb_lake_interval"
"""Label of a ``latest`` table: the interval end of the snapshot it holds (``20261122t000000``), compared on publish."""


def interval_label(interval_end: str | None, snapshot: str) -> str:
    """The label value of a run's interval end (the snapshot stamp's time when there is none): sorts by time."""
    return job_id_time(interval_end, snapshot).strftime("%Y%m%dt%H%M%S")


def newer_interval_live(live: str | None, incoming: str, table: str) -> str | None:
    """Why a ``latest`` publish must not replace the table (it holds a newer interval), or None when it may."""
    if live and live > incoming:
        return (
            f"BigQuery table {table} holds interval {live}, newer than this run's {incoming}: the older snapshot is "
            "not copied over it (newest interval wins). Its staging table is dropped; nothing else changes."
        )
    return None
