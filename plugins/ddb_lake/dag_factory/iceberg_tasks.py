"""The tasks of a ``lake.format: iceberg`` table's incremental DAG: state → export → convert → merge → validate →
expire, report (and lifecycle after convert). The parquet path (``tasks.add_tasks``) is untouched; ``add_tasks``
hands iceberg tables here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ddb_lake.core.config.table_config import TableConfig
from ddb_lake.core.export.waiting import polls_within
from ddb_lake.core.run_plan import TablePlan


def add_iceberg_tasks(config: TableConfig, table: TablePlan, plan: Any, aws: dict) -> dict[str, Any]:
    """Create the Iceberg tasks after ``plan`` in the current DAG; return them by name."""
    from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
    from ddb_lake.operators.export_to_parquet import ExportToParquetOperator
    from ddb_lake.operators.iceberg_table import (
        IcebergChainStateOperator,
        IcebergExpireSnapshotsOperator,
        IcebergMergeOperator,
        IcebergValidationOperator,
    )
    from ddb_lake.operators.lake_lifecycle import LakeLifecycleOperator
    from ddb_lake.operators.run_report import RunReportOperator

    where = {"database": table.glue_database, "table_name": table.current_table}
    state = IcebergChainStateOperator(
        task_id="state", dynamodb_table=table.dynamodb_table, layout=table.layout, interval_end=plan["export_time"],
        check_recovery_window=config.export.check_recovery_window, **where, **aws)
    export = DynamoDBExportOperator(
        task_id="export", table_name=table.dynamodb_table, s3_bucket=table.lake_bucket,
        s3_prefix=state.output["export_prefix"], export_type=state.output["export_type"],
        export_time=state.output["export_time"], window_start=state.output["window_start"],
        waiter_delay=config.export.poll_seconds, export_view_type=config.export.view_type,
        waiter_max_attempts=polls_within(config.export.max_wait_minutes, config.export.poll_seconds),
        check_recovery_window=config.export.check_recovery_window, deferrable=True, **aws)
    convert = ExportToParquetOperator(
        task_id="convert", export=export.output, dest_url=state.output["changes_url"],
        snapshot=state.output["snapshot"], numbers=config.numbers, previous_schema=state.output["previous_schema"],
        converter_options=config.convert.converter_options(), **aws)
    merge = IcebergMergeOperator(
        task_id="merge", location=table.iceberg_location, export=export.output, conversion=convert.output,
        state=state.output, **where, **aws)
    validate = IcebergValidationOperator(task_id="validate", merge=merge.output, **where, **aws)
    report = RunReportOperator(task_id="report", table=config.name, export=export.output, conversion=convert.output,
                               validation=validate.output)
    expire = IcebergExpireSnapshotsOperator(
        task_id="expire", grace_period=timedelta(hours=config.retention.grace_hours),
        keep_last=config.retention.keep_last, **where, **aws)
    lifecycle = LakeLifecycleOperator(
        task_id="lifecycle", bucket=table.lake_bucket, prefix=table.lake_prefix, table=table.lake_table,
        raw_export_days=config.retention.raw_export_days, changes_days=config.retention.changes_days, **aws)
    plan_task = plan.operator
    plan_task >> state >> export >> convert >> merge >> validate >> [expire, report]
    convert >> lifecycle
    return {"state": state, "export": export, "convert": convert, "merge": merge, "validate": validate,
            "expire": expire, "report": report, "lifecycle": lifecycle}
