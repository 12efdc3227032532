"""One run's plan: every name, key and stamp a DAG run of one table needs, computed once from settings and interval.

Flow: ``TableConfig`` (YAML) -> :func:`table_plan` (parse time: names that do not depend on the interval) ->
:meth:`TablePlan.for_interval` (run time, in the ``plan`` task) -> :class:`RunPlan`, whose :meth:`RunPlan.to_xcom`
values reach every later task as XComArgs. No task derives a name from a URL or pulls XCom by task id.
Pure: imports no Airflow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ddb_lake.core.config.table_config import TableConfig
from ddb_lake.core.export.rules import FULL_EXPORT, INCREMENTAL_EXPORT, export_window
from ddb_lake.core.lake.layout import TableLayout, attempts_key, join_key, utc_stamp

MODES = {"full": FULL_EXPORT, "incremental": INCREMENTAL_EXPORT}


@dataclass(frozen=True)
class TablePlan:
    """What a table's DAG needs before any run: names and roots that do not depend on the interval."""

    table: str
    mode: str
    dynamodb_table: str
    region: str
    export_type: str
    lake_bucket: str
    lake_prefix: str
    lake_table: str
    lake_root_url: str
    glue_database: str
    current_table: str
    history_table: str
    crawler_name: str
    bigquery_project: str | None = None
    bigquery_dataset: str | None = None
    bigquery_table: str | None = None
    bigquery_layout: str | None = None
    gcs_bucket: str | None = None
    lake_format: str = "parquet"
    iceberg_location: str | None = None  # lake.format iceberg: the Iceberg table's folder (its data and metadata)

    @property
    def layout(self) -> TableLayout:
        return TableLayout(self.lake_bucket, self.lake_prefix, self.lake_table)

    def for_interval(self, start: datetime | str | None, end: datetime | str | None) -> RunPlan:
        """The plan of the run covering [start, end): a full export at ``end``, or the changes in [start, end)."""
        window_start, export_time = export_window(self.dynamodb_table, self.export_type, start, end)
        layout = self.layout
        if window_start is None:
            snapshot = utc_stamp(export_time)
            snapshot_key = layout.snapshot_prefix(export_time)
        else:
            snapshot = f"{utc_stamp(window_start)}-{utc_stamp(export_time)}"
            snapshot_key = layout.changes_prefix(window_start, export_time)
        return RunPlan(
            **asdict(self),
            export_time=export_time.isoformat(),
            window_start=window_start.isoformat() if window_start else None,
            export_prefix=layout.export_prefix(self.export_type, export_time, window_start),
            snapshot=snapshot,
            snapshot_url=layout.url(snapshot_key),
            attempts_url=layout.url(attempts_key(snapshot_key)),
            bigquery_day=export_time.date().isoformat(),
            gcs_staging_prefix=f"{self.lake_table}/{snapshot}",
        )


@dataclass(frozen=True)
class RunPlan(TablePlan):
    """One run's plan. Times are ISO-8601 strings so the plan travels through XCom and templates unchanged.

    ``snapshot_url`` is the snapshot's fixed ``snapshot=<stamp>`` folder (the name of its slot; the DAG no longer
    writes there). ``attempts_url`` is where convert writes: each task try into its own ``attempt=<id>/`` below it,
    and every later task takes that attempt's URL from convert's summary (``snapshot_prefix``).
    """

    export_time: str = ""
    window_start: str | None = None
    export_prefix: str = ""
    snapshot: str = ""
    snapshot_url: str = ""
    attempts_url: str = ""
    bigquery_day: str = ""
    gcs_staging_prefix: str = ""

    def to_xcom(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> RunPlan:
        return cls(**data)


def history_table_name(glue_table: str, mode: str) -> str:
    """The partitioned Glue table a run adds to: ``<table>_snapshots`` (full) or ``<table>_changes`` (incremental)."""
    return f"{glue_table}{'_snapshots' if mode == 'full' else '_changes'}".lower()


def table_plan(config: TableConfig, mode: str) -> TablePlan:
    """The table's names for one export mode (``full`` or ``incremental``)."""
    layout = TableLayout(config.lake.bucket, config.lake.prefix, config.glue_table)
    root = layout.snapshots_prefix() if mode == "full" else layout.changes_root_prefix()
    bq = config.bigquery
    return TablePlan(
        table=config.name,
        mode=mode,
        dynamodb_table=config.dynamodb.table_name,
        region=config.dynamodb.region,
        export_type=MODES[mode],
        lake_bucket=config.lake.bucket,
        lake_prefix=config.lake.prefix,
        lake_table=config.glue_table,
        lake_root_url=layout.url(root),
        glue_database=config.glue.database,
        current_table=config.glue_table.lower(),
        history_table=history_table_name(config.glue_table, mode),
        crawler_name=f"ddb-lake-{config.name}-{mode}",
        bigquery_project=bq.project if bq else None,
        bigquery_dataset=bq.dataset if bq else None,
        bigquery_table=config.bigquery_table or None,
        bigquery_layout=bq.layout if bq else None,
        gcs_bucket=bq.gcs_bucket if bq else None,
        lake_format=config.lake.format,
        iceberg_location=layout.url(join_key(config.lake.prefix, "iceberg", config.glue_table))
        if config.lake.format == "iceberg" else None,
    )
