"""The tasks of a ``lake.format: iceberg`` table's incremental DAG: state → export → convert → merge → validate →
report (and state → full_check_export → validate: the periodic full-export check), and compact → expire →
remove_orphans after validate (lifecycle after convert). The parquet path
(``tasks.add_tasks``) is untouched; ``add_tasks`` hands iceberg tables here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ddb_lake.core.config.table_config import TableConfig
from ddb_lake.core.export.waiting import polls_within
from ddb_lake.core.run_plan import TablePlan


def add_iceberg_tasks(config: TableConfig, table: TablePlan, plan: Any, aws: dict,
                      bigquery_asset: Any = None) -> dict[str, Any]:
    """Create the Iceberg tasks after ``plan`` in the current DAG; return them by name."""
    from ddb_lake.operators.iceberg_table import (
        IcebergChainStateOperator,
        IcebergCompactionOperator,
        IcebergExpireSnapshotsOperator,
        IcebergFullCheckExportOperator,
        IcebergMergeOperator,
        IcebergOrphanFilesOperator,
        IcebergValidationOperator,
    )
    from ddb_lake.operators.lake_lifecycle import LakeLifecycleOperator
    from ddb_lake.operators.run_report import RunReportOperator

    where = {"database": table.glue_database, "table_name": table.current_table}
    state = IcebergChainStateOperator(
        task_id="state", dynamodb_table=table.dynamodb_table, layout=table.layout, interval_end=plan["export_time"],
        check_recovery_window=config.export.check_recovery_window,
        verify_full_every_runs=config.iceberg.verify_full_every_runs, **where, **aws)
    export, convert = window_export_and_convert(config, table, state, aws)
    merge = IcebergMergeOperator(
        task_id="merge", location=table.iceberg_location, export=export.output, conversion=convert.output,
        state=state.output, merge_engine=config.iceberg.merge_engine, athena_min_rows=config.iceberg.athena_min_rows,
        athena_output_location=config.athena.output_location, athena_workgroup=config.athena.workgroup, **where, **aws)
    full_check = IcebergFullCheckExportOperator(
        task_id="full_check_export", due=state.output["full_check"], table_name=table.dynamodb_table,
        s3_bucket=table.lake_bucket, s3_prefix=state.output["full_check_prefix"],
        export_time=state.output["export_time"], waiter_delay=config.export.poll_seconds,
        check_recovery_window=config.export.check_recovery_window, deferrable=True, **aws)
    validate = IcebergValidationOperator(task_id="validate", merge=merge.output, full_check=full_check.output,
                                         **where, **aws)
    report = RunReportOperator(task_id="report", table=config.name, export=export.output, conversion=convert.output,
                               validation=validate.output)
    expire = IcebergExpireSnapshotsOperator(
        task_id="expire", grace_period=timedelta(hours=config.retention.grace_hours),
        keep_last=config.retention.keep_last, **where, **aws)
    compact = IcebergCompactionOperator(
        task_id="compact", every_runs=config.iceberg.compact_every_runs, small_file_mb=config.iceberg.small_file_mb,
        **where, **aws)
    orphans = IcebergOrphanFilesOperator(
        task_id="remove_orphans", grace_period=timedelta(hours=config.retention.grace_hours), **where, **aws)
    lifecycle = LakeLifecycleOperator(
        task_id="lifecycle", bucket=table.lake_bucket, prefix=table.lake_prefix, table=table.lake_table,
        raw_export_days=config.retention.raw_export_days, changes_days=config.retention.changes_days, **aws)
    plan_task = plan.operator
    plan_task >> state >> export >> convert >> merge >> validate >> [compact, report]
    compact >> expire >> orphans
    convert >> lifecycle
    state >> full_check >> validate
    tasks = {"state": state, "export": export, "full_check_export": full_check, "convert": convert,
             "merge": merge, "validate": validate, "compact": compact, "expire": expire,
             "remove_orphans": orphans, "report": report, "lifecycle": lifecycle}
    if config.bigquery is not None:
        from ddb_lake.compat import TaskGroup

        with TaskGroup(group_id="bigquery", tooltip="Iceberg snapshot → GCS → BigQuery staging → validate → publish"):
            tasks.update(_bigquery_mirror_tasks(config, table, state, validate, bigquery_asset, aws))
    return tasks


def window_export_and_convert(config: TableConfig, table: TablePlan, state: Any, aws: dict) -> tuple[Any, Any]:
    """The export the ``state`` task decided (bootstrap or window) and its conversion into the table's schema, as
    the Iceberg and the CDC DAG both run them."""
    from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
    from ddb_lake.operators.export_to_parquet import ExportToParquetOperator

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
        converter_options=config.convert.converter_options(), columns=dict(config.columns), **aws)
    return export, convert


def _bigquery_mirror_tasks(config: TableConfig, table: TablePlan, state: Any, validate: Any, bigquery_asset: Any,
                           aws: dict) -> dict[str, Any]:
    """The BigQuery mirror after ``validate`` (docs/iceberg.md, "BigQuery mirror"): the validated snapshot as
    Parquet → GCS → staging table → checked against the snapshot → copied over the ``latest`` table."""
    from ddb_lake.destinations.bigquery.iceberg_mirror import (
        BigQueryMirrorValidationOperator,
        IcebergSnapshotParquetOperator,
    )
    from ddb_lake.destinations.bigquery.load_operator import BigQueryLoadSnapshotOperator
    from ddb_lake.destinations.bigquery.publish_operator import BigQueryPublishOperator
    from ddb_lake.destinations.bigquery.staging_lifecycle_operator import StagingLifecycleOperator
    from ddb_lake.destinations.bigquery.transfer_operator import SnapshotToGCSOperator

    bq = config.bigquery
    assert bq is not None
    gcp = {"gcp_conn_id": config.connections.gcp, "location": bq.location}
    snapshot = IcebergSnapshotParquetOperator(
        task_id="snapshot", database=table.glue_database, table_name=table.current_table,
        lake_table=table.lake_table, validation=validate.output, changes_url=state.output["changes_url"], **aws)
    transfer = SnapshotToGCSOperator(
        task_id="transfer_to_gcs", snapshot=snapshot.output, gcs_bucket=bq.gcs_bucket,
        gcs_prefix=snapshot.output["gcs_prefix"], transfer_method=bq.transfer_method,
        aws_conn_id=config.connections.aws, gcp_conn_id=config.connections.gcp)
    load = BigQueryLoadSnapshotOperator(
        task_id="load", snapshot=snapshot.output, transfer=transfer.output, project_id=bq.project,
        dataset=bq.dataset, table=config.bigquery_table, layout=bq.layout,
        interval_end=snapshot.output["interval_end"], force_rerun=bq.force_rerun, stage=True,
        staging_days=bq.staging_days, deferrable=True, **gcp)
    check = BigQueryMirrorValidationOperator(task_id="validate", snapshot=snapshot.output, load=load.output, **gcp)
    publish = BigQueryPublishOperator(
        task_id="publish", load=load.output, outlets=[bigquery_asset] if bigquery_asset is not None else [], **gcp)
    staging_lifecycle = StagingLifecycleOperator(
        task_id="staging_lifecycle", gcs_bucket=bq.gcs_bucket, lake_table=table.lake_table,
        staging_days=bq.staging_days, gcp_conn_id=config.connections.gcp)
    validate >> snapshot >> transfer >> load >> check >> publish
    return {"bigquery.snapshot": snapshot, "bigquery.transfer_to_gcs": transfer, "bigquery.load": load,
            "bigquery.validate": check, "bigquery.publish": publish, "bigquery.staging_lifecycle": staging_lifecycle}
