"""The CDC DAG of a table with a ``cdc:`` section (docs/cdc.md), ``ddb_lake__<table>__cdc``, every 1-5 minutes:

    state → export → convert → merge → validate → changes → validate_changes [→ bigquery] → cleanup, expire

``state`` decides whether this run needs an export first (the table's bootstrap, or a stream gap to heal); when it
does not, it is skipped with its export branch and ``changes`` runs alone. The export branch is the Iceberg
table's own tasks. With a ``bigquery:`` section, ``bigquery`` applies the same changes to BigQuery after the Iceberg
commit (``destinations/bigquery/cdc_operator.py``). Runs never overlap (``max_active_runs=1``): one merge at a time
moves the table's position.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ddb_lake.compat import DAG, CronDataIntervalTimetable
from ddb_lake.core.cdc.change_files import cdc_prefix
from ddb_lake.core.config.table_config import TableConfig
from ddb_lake.core.run_plan import table_plan


def build_cdc_dag(config: TableConfig) -> DAG:
    from ddb_lake.dag_factory.table_dag import DAG_ID_PREFIX, default_args, doc_md

    assert config.cdc is not None
    table = table_plan(config, "incremental")
    with DAG(
        dag_id=f"{DAG_ID_PREFIX}__{config.name}__cdc",
        schedule=CronDataIntervalTimetable(config.cdc.schedule, timezone="UTC"),
        start_date=config.start_date,
        catchup=False,  # each run merges whatever is waiting: there is nothing to backfill
        max_active_runs=1,
        default_args=default_args(config),
        dagrun_timeout=timedelta(minutes=config.task_timeout_minutes * 4),
        doc_md=doc_md(config, table),
        tags=["ddb-lake", config.name, "cdc", *config.tags],
        auto_register=False,
    ) as dag:
        add_cdc_tasks(config, table)
    return dag


def add_cdc_tasks(config: TableConfig, table: Any) -> dict[str, Any]:
    """Create the CDC tasks in the current DAG; return them by name."""
    from ddb_lake.dag_factory.iceberg_tasks import window_export_and_convert
    from ddb_lake.operators.cdc_merge import CdcCleanupOperator, CdcMergeOperator, CdcStateOperator
    from ddb_lake.operators.iceberg_table import (
        IcebergExpireSnapshotsOperator,
        IcebergMergeOperator,
        IcebergValidationOperator,
    )

    assert config.cdc is not None
    aws = {"aws_conn_id": config.connections.aws, "region_name": config.dynamodb.region}
    where = {"database": table.glue_database, "table_name": table.current_table}
    files = {**where, "bucket": table.lake_bucket, "cdc_prefix": cdc_prefix(table.lake_prefix, table.dynamodb_table),
             "settle": timedelta(seconds=config.cdc.settle_seconds), **aws}
    state = CdcStateOperator(task_id="state", layout=table.layout, **files)
    export, convert = window_export_and_convert(config, table, state, aws)
    merge = IcebergMergeOperator(task_id="merge", location=table.iceberg_location, export=export.output,
                                 conversion=convert.output, state=state.output, **where, **aws)
    validate = IcebergValidationOperator(task_id="validate", merge=merge.output, **where, **aws)
    changes = CdcMergeOperator(task_id="changes", numbers=config.numbers, trigger_rule="none_failed", **files)
    validate_changes = IcebergValidationOperator(task_id="validate_changes", merge=changes.output, **where, **aws)
    cleanup = CdcCleanupOperator(task_id="cleanup", grace=timedelta(hours=config.cdc.cleanup_grace_hours),
                                 trigger_rule="none_failed", **files)
    expire = IcebergExpireSnapshotsOperator(
        task_id="expire", grace_period=timedelta(hours=config.retention.grace_hours),
        keep_last=config.retention.keep_last, trigger_rule="none_failed", **where, **aws)
    state >> export >> convert >> merge >> validate >> changes >> validate_changes
    tasks = {"state": state, "export": export, "convert": convert, "merge": merge, "validate": validate,
             "changes": changes, "validate_changes": validate_changes, "cleanup": cleanup, "expire": expire}
    if config.bigquery is None:
        validate_changes >> [cleanup, expire]
        return tasks
    from ddb_lake.destinations.bigquery.cdc_operator import BigQueryCdcApplyOperator

    bq = config.bigquery
    bigquery = BigQueryCdcApplyOperator(
        task_id="bigquery", project_id=bq.project, dataset=bq.dataset, table=config.bigquery_table,
        gcp_conn_id=config.connections.gcp, location=bq.location, numbers=config.numbers,
        trigger_rule="none_failed", **files)
    validate_changes >> bigquery >> [cleanup, expire]  # change files and snapshots stay until BigQuery has them
    return {**tasks, "bigquery": bigquery}
