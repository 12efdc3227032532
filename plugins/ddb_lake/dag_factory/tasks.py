"""The tasks of one table's DAG, wired from its settings; called inside a ``DAG`` context by ``table_dag``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ddb_lake.compat import Asset, TaskGroup
from ddb_lake.core.config.table_config import TableConfig
from ddb_lake.core.lake.layout import TableLayout

EXPORT_TYPES = {"full": "FULL_EXPORT", "incremental": "INCREMENTAL_EXPORT"}


def lake_layout(config: TableConfig) -> TableLayout:
    """The table's S3 keys; the lake names a table by its Glue table name."""
    return TableLayout(config.lake.bucket, config.lake.prefix, config.glue_table)


def lake_root_url(config: TableConfig, mode: str) -> str:
    """``s3://<bucket>/<prefix>/snapshots/<table>`` (full) or ``.../changes/<table>`` (incremental)."""
    layout = lake_layout(config)
    return layout.url(layout.snapshots_prefix() if mode == "full" else layout.changes_root_prefix())


def history_table(config: TableConfig, mode: str) -> str:
    """The partitioned Glue table a run adds to: ``<table>_snapshots`` (full) or ``<table>_changes`` (incremental)."""
    return f"{config.glue_table}{'_snapshots' if mode == 'full' else '_changes'}"


def add_tasks(config: TableConfig, mode: str, *, lake_asset: Asset, bigquery_asset: Asset | None) -> dict[str, Any]:
    """Create the tasks in the current DAG and return them by name."""
    from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
    from ddb_lake.operators.export_to_parquet import ExportToParquetOperator
    from ddb_lake.operators.run_report import RunReportOperator

    aws = {"aws_conn_id": config.connections.aws, "region_name": config.dynamodb.region}
    tasks: dict[str, Any] = {}
    tasks["export"] = DynamoDBExportOperator(
        task_id="export",
        table_name=config.dynamodb.table_name,
        s3_bucket=config.lake.bucket,
        s3_prefix=config.lake.prefix,
        export_type=EXPORT_TYPES[mode],
        lake_table=config.glue_table,
        waiter_delay=config.export.poll_seconds,
        export_view_type=config.export.view_type,
        check_recovery_window=config.export.check_recovery_window,
        deferrable=True,
        **aws,
    )
    tasks["convert"] = ExportToParquetOperator(
        task_id="convert",
        export=tasks["export"].output,
        lake_bucket=config.lake.bucket,
        lake_prefix=config.lake.prefix,
        numbers=config.numbers,
        **aws,
    )
    tasks["export"] >> tasks["convert"]
    with TaskGroup(group_id="lake", tooltip="Glue catalog and Athena partitions") as lake_group:
        tasks.update(_lake_tasks(config, mode, tasks["convert"].output, aws))
    tasks["convert"] >> lake_group
    last = lake_group
    if mode == "full" and config.bigquery is not None:
        with TaskGroup(group_id="bigquery", tooltip="S3 → GCS → BigQuery load job") as bq_group:
            tasks.update(_bigquery_tasks(config, bigquery_asset))
        tasks["convert"] >> bq_group
        last = [lake_group, bq_group]
    tasks["validate"] = _validation_task(config, mode, tasks)
    last >> tasks["validate"]
    tail = tasks["validate"]
    if mode == "full":
        tasks.update(_publish_tasks(config, tasks["convert"].output, lake_asset, aws))
        tasks["validate"] >> tasks["publish"] >> tasks["retention"]
        tail = tasks["publish"]
    tasks["report"] = RunReportOperator(
        task_id="report",
        table=config.name,
        export=tasks["export"].output,
        conversion=tasks["convert"].output,
        validation=tasks["validate"].output,
        transfer=tasks["bigquery.transfer_to_gcs"].output if "bigquery.transfer_to_gcs" in tasks else None,
        load=tasks["bigquery.load"].output if "bigquery.load" in tasks else None,
    )
    tail >> tasks["report"]
    return tasks


def _lake_tasks(config: TableConfig, mode: str, summary: Any, aws: dict) -> dict[str, Any]:
    from ddb_lake.operators.athena_partitions import AthenaPartitionRepairOperator
    from ddb_lake.operators.glue_catalog import GlueSnapshotCatalogOperator, LakeGlueCrawlerOperator

    partitioned_table = history_table(config, mode)
    tasks: dict[str, Any] = {}
    if config.glue.catalog_mode == "crawler":
        tasks["lake.crawl"] = LakeGlueCrawlerOperator(
            task_id="crawl",
            crawler_name=f"ddb-lake-{config.name}-{mode}",
            s3_paths=[lake_root_url(config, mode) + "/"],
            database=config.glue.database,
            role=config.glue.crawler_role,
            deferrable=True,
            **aws,
        )
        return tasks
    tasks["lake.catalog"] = GlueSnapshotCatalogOperator(
        task_id="catalog",
        convert_summary=summary,
        database=config.glue.database,
        table_name=config.glue_table,
        bucket=config.lake.bucket,
        snapshots_table=partitioned_table,
        **aws,
    )
    if config.athena.repair != "none":
        tasks["lake.athena_partitions"] = AthenaPartitionRepairOperator(
            task_id="athena_partitions",
            database=config.glue.database,
            table=partitioned_table,
            output_location=config.athena.output_location,
            workgroup=config.athena.workgroup,
            snapshot="{{ ti.xcom_pull(task_ids='convert')['snapshot'] }}",
            location="{{ ti.xcom_pull(task_ids='convert')['snapshot_prefix'] }}",
            mode="msck_repair" if config.athena.repair == "msck" else "add_partition",
            **aws,
        )
        tasks["lake.catalog"] >> tasks["lake.athena_partitions"]
    return tasks


def _bigquery_tasks(config: TableConfig, bigquery_asset: Asset | None) -> dict[str, Any]:
    from ddb_lake.destinations.bigquery.load_operator import BigQueryLoadSnapshotOperator
    from ddb_lake.destinations.bigquery.transfer_operator import SnapshotToGCSOperator

    bq = config.bigquery
    assert bq is not None
    transfer = SnapshotToGCSOperator(
        task_id="transfer_to_gcs",
        gcs_bucket=bq.gcs_bucket,
        convert_task_id="convert",
        aws_conn_id=config.connections.aws,
        gcp_conn_id=config.connections.gcp,
    )
    load = BigQueryLoadSnapshotOperator(
        task_id="load",
        project_id=bq.project,
        dataset=bq.dataset,
        table=config.bigquery_table,
        layout=bq.layout,
        convert_task_id="convert",
        transfer_task_id="bigquery.transfer_to_gcs",
        gcp_conn_id=config.connections.gcp,
        location=bq.location,
        deferrable=True,
        outlets=[bigquery_asset] if bigquery_asset is not None else [],
    )
    transfer >> load
    return {"bigquery.transfer_to_gcs": transfer, "bigquery.load": load}


def _validation_task(config: TableConfig, mode: str, tasks: dict[str, Any]) -> Any:
    from ddb_lake.operators.row_count_validation import RowCountValidationOperator

    athena = config.athena.repair != "none" and config.glue.catalog_mode == "api"
    return RowCountValidationOperator(
        task_id="validate",
        export_task_id="export",
        convert_task_id="convert",
        load_task_id="bigquery.load" if "bigquery.load" in tasks else None,
        athena_database=config.glue.database if athena else None,
        athena_table=history_table(config, mode) if athena else None,
        athena_output_location=config.athena.output_location if athena else None,
        athena_workgroup=config.athena.workgroup,
        key_columns=list(config.validation.key_columns) or None,
        tolerance=config.validation.tolerance,
        aws_conn_id=config.connections.aws,
        gcp_conn_id=config.connections.gcp,
        location=config.bigquery.location if config.bigquery else None,
    )


def _publish_tasks(config: TableConfig, summary: Any, lake_asset: Asset, aws: dict) -> dict[str, Any]:
    from ddb_lake.operators.snapshot_publish import SnapshotPublishOperator, SnapshotRetentionOperator

    publish = SnapshotPublishOperator(
        task_id="publish",
        convert_summary=summary,
        database=config.glue.database,
        table_name=config.glue_table,
        bucket=config.lake.bucket,
        outlets=[lake_asset],
        **aws,
    )
    retention = SnapshotRetentionOperator(
        task_id="retention",
        database=config.glue.database,
        table_name=config.glue_table,
        bucket=config.lake.bucket,
        prefix=config.lake.prefix,
        grace_period=timedelta(hours=config.retention.grace_hours),
        keep_last=config.retention.keep_last,
        **aws,
    )
    return {"publish": publish, "retention": retention}
