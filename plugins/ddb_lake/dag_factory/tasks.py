"""The tasks of one table's DAG, wired from its table plan; called inside a ``DAG`` context by ``table_dag``.

Data flows one way: the ``plan`` task computes the run's :class:`~ddb_lake.core.run_plan.RunPlan` from the table plan
and the data interval; every later task receives plan values and upstream results only as XComArgs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ddb_lake.compat import Asset, TaskGroup
from ddb_lake.core.config.table_config import TableConfig
from ddb_lake.core.export.waiting import polls_within
from ddb_lake.core.run_plan import TablePlan


def add_tasks(
    config: TableConfig, table: TablePlan, *, lake_asset: Asset, bigquery_asset: Asset | None
) -> dict[str, Any]:
    """Create the tasks in the current DAG and return them by name."""
    from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator
    from ddb_lake.operators.export_to_parquet import ExportToParquetOperator
    from ddb_lake.operators.run_plan import RunPlanOperator

    aws = {"aws_conn_id": config.connections.aws, "region_name": config.dynamodb.region}
    tasks: dict[str, Any] = {"plan": RunPlanOperator(task_id="plan", table_plan=table)}
    plan = tasks["plan"].output
    if config.lake.format == "iceberg":
        from ddb_lake.dag_factory.iceberg_tasks import add_iceberg_tasks

        return {**tasks, **add_iceberg_tasks(config, table, plan, aws, bigquery_asset)}
    if config.export.mode == "scan":
        tasks["export"] = _scan_export_task(config, table, plan, aws)
    else:
        tasks["export"] = DynamoDBExportOperator(
            task_id="export",
            table_name=table.dynamodb_table,
            s3_bucket=table.lake_bucket,
            s3_prefix=plan["export_prefix"],
            export_type=table.export_type,
            export_time=plan["export_time"],
            window_start=plan["window_start"],
            waiter_delay=config.export.poll_seconds,
            waiter_max_attempts=polls_within(config.export.max_wait_minutes, config.export.poll_seconds),
            export_view_type=config.export.view_type,
            check_recovery_window=config.export.check_recovery_window,
            deferrable=True,
            **aws,
        )
    contract = _contract_task(table, aws) if table.mode == "full" else None
    if contract is not None:
        tasks["contract"] = contract
    if config.convert.engine in ("mapped", "spark", "auto"):  # slices (mapped tasks / Spark), then convert commits
        from ddb_lake.dag_factory.convert_tasks import fanned_out_convert_tasks

        tasks.update(fanned_out_convert_tasks(config, plan, tasks["export"].output, contract, aws))
    else:
        tasks["convert"] = ExportToParquetOperator(
            task_id="convert",
            export=tasks["export"].output,
            attempts_url=plan["attempts_url"],  # each try writes its own attempt=<id>/; later tasks read its summary
            snapshot=plan["snapshot"],
            numbers=config.numbers,
            previous_schema=contract.output["schema"] if contract is not None else None,
            converter_options=config.convert.converter_options(),
            columns=dict(config.columns),
            **aws,
        )
    with TaskGroup(group_id="lake", tooltip="Glue catalog and Athena partitions") as lake_group:
        tasks.update(_lake_tasks(config, table, plan, tasks["convert"].output, aws))
    tasks["convert"] >> lake_group
    last: Any = lake_group
    if table.mode == "full" and config.bigquery is not None:
        with TaskGroup(group_id="bigquery", tooltip="S3 → GCS → BigQuery staging table → publish") as bq_group:
            tasks.update(_bigquery_tasks(config, table, plan, tasks["convert"].output, bigquery_asset))
        tasks["convert"] >> bq_group
        last = [lake_group, tasks["bigquery.load"], tasks["bigquery.staging_lifecycle"]]
    tasks["validate"] = _validation_task(config, table, tasks)
    last >> tasks["validate"]
    if "bigquery.publish" in tasks:  # the staging table is copied into place only once every copy agreed
        tasks["validate"] >> tasks["bigquery.publish"]
    tail = tasks["validate"]
    if table.mode == "full":
        tasks.update(_publish_tasks(config, table, tasks["convert"].output, lake_asset, aws,
                                    validation=tasks["validate"].output))
        tasks["validate"] >> tasks["publish"] >> tasks["retention"]
        tail = tasks["publish"]
    tasks["report"] = _report_task(config, tasks)
    tail >> tasks["report"]
    if "bigquery.publish" in tasks:
        tasks["bigquery.publish"] >> tasks["report"]
    return tasks


def _contract_task(table: TablePlan, aws: dict) -> Any:
    """The table's schema contract, read before convert (full mode: the contract is what publish keeps)."""
    from ddb_lake.operators.schema_contract import SchemaContractOperator

    return SchemaContractOperator(
        task_id="contract",
        database=table.glue_database,
        table_name=table.lake_table,
        current_table=table.current_table,
        bucket=table.lake_bucket,
        **aws,
    )


def _lake_tasks(config: TableConfig, table: TablePlan, plan: Any, summary: Any, aws: dict) -> dict[str, Any]:
    from ddb_lake.operators.athena_partitions import AthenaPartitionRepairOperator
    from ddb_lake.operators.glue_catalog import GlueSnapshotCatalogOperator
    from ddb_lake.operators.lake_lifecycle import LakeLifecycleOperator

    tasks: dict[str, Any] = {
        "lake.lifecycle": LakeLifecycleOperator(
            task_id="lifecycle",
            bucket=table.lake_bucket,
            prefix=table.lake_prefix,
            table=table.lake_table,
            raw_export_days=config.retention.raw_export_days,
            changes_days=config.retention.changes_days,
            **aws,
        )
    }
    # glue.catalog_mode: crawler is refused by the config (docs/lake-catalog.md): the catalog task names the attempt.
    tasks["lake.catalog"] = GlueSnapshotCatalogOperator(
        task_id="catalog",
        convert_summary=summary,
        database=table.glue_database,
        table_name=table.lake_table,
        bucket=table.lake_bucket,
        snapshots_table=table.history_table,
        partition_projection=config.glue.partition_projection,
        **aws,
    )
    if config.athena.repair != "none":
        tasks["lake.athena_partitions"] = AthenaPartitionRepairOperator(
            task_id="athena_partitions",
            database=table.glue_database,
            table=table.history_table,
            output_location=config.athena.output_location,
            workgroup=config.athena.workgroup,
            convert_summary=summary,  # the partition points at the attempt convert wrote, not at a planned folder
            mode="msck_repair" if config.athena.repair == "msck" else "add_partition",
            **aws,
        )
        tasks["lake.catalog"] >> tasks["lake.athena_partitions"]
    return tasks


def _bigquery_tasks(
    config: TableConfig, table: TablePlan, plan: Any, summary: Any, bigquery_asset: Asset | None
) -> dict[str, Any]:
    from ddb_lake.destinations.bigquery.load_operator import BigQueryLoadSnapshotOperator
    from ddb_lake.destinations.bigquery.publish_operator import BigQueryPublishOperator
    from ddb_lake.destinations.bigquery.staging_lifecycle_operator import StagingLifecycleOperator
    from ddb_lake.destinations.bigquery.transfer_operator import SnapshotToGCSOperator

    bq = config.bigquery
    assert bq is not None
    transfer = SnapshotToGCSOperator(
        task_id="transfer_to_gcs",
        snapshot=summary,
        gcs_bucket=bq.gcs_bucket,
        gcs_prefix=plan["gcs_staging_prefix"],
        transfer_method=bq.transfer_method,
        aws_conn_id=config.connections.aws,
        gcp_conn_id=config.connections.gcp,
    )
    load = BigQueryLoadSnapshotOperator(
        task_id="load",
        snapshot=summary,
        transfer=transfer.output,
        project_id=bq.project,
        dataset=bq.dataset,
        table=config.bigquery_table,
        layout=bq.layout,
        interval_end=plan["export_time"],
        gcp_conn_id=config.connections.gcp,
        location=bq.location,
        partition_expiration_days=bq.partition_expiration_days or None,
        force_rerun=bq.force_rerun,
        stage=True,
        staging_days=bq.staging_days,
        deferrable=True,
    )
    publish = BigQueryPublishOperator(
        task_id="publish",
        load=load.output,
        partition_expiration_days=bq.partition_expiration_days or None,
        gcp_conn_id=config.connections.gcp,
        location=bq.location,
        outlets=[bigquery_asset] if bigquery_asset is not None else [],
    )
    load >> publish
    staging_lifecycle = StagingLifecycleOperator(
        task_id="staging_lifecycle",
        gcs_bucket=bq.gcs_bucket,
        lake_table=table.lake_table,
        staging_days=bq.staging_days,
        gcp_conn_id=config.connections.gcp,
    )
    return {
        "bigquery.transfer_to_gcs": transfer, "bigquery.load": load, "bigquery.staging_lifecycle": staging_lifecycle,
        "bigquery.publish": publish,
    }


def _validation_task(config: TableConfig, table: TablePlan, tasks: dict[str, Any]) -> Any:
    from ddb_lake.operators.row_count_validation import RowCountValidationOperator

    athena = config.athena.repair != "none" and config.glue.catalog_mode == "api"
    return RowCountValidationOperator(
        task_id="validate",
        export=tasks["export"].output,
        snapshot=tasks["convert"].output,
        loads=[tasks["bigquery.load"].output] if "bigquery.load" in tasks else None,
        athena_database=table.glue_database if athena else None,
        athena_table=table.history_table if athena else None,
        athena_output_location=config.athena.output_location if athena else None,
        athena_workgroup=config.athena.workgroup,
        key_columns=list(config.validation.key_columns) or None,
        tolerance=config.validation.tolerance,
        aws_conn_id=config.connections.aws,
        gcp_conn_id=config.connections.gcp,
        location=config.bigquery.location if config.bigquery else None,
    )


def _publish_tasks(config: TableConfig, table: TablePlan, summary: Any, lake_asset: Asset, aws: dict,
                   validation: Any = None) -> dict:
    from ddb_lake.operators.snapshot_publish import SnapshotPublishOperator, SnapshotRetentionOperator

    publish = SnapshotPublishOperator(
        task_id="publish",
        convert_summary=summary,
        database=table.glue_database,
        table_name=table.lake_table,
        bucket=table.lake_bucket,
        allow_rollback=config.lake.allow_rollback,
        validation=validation,
        outlets=[lake_asset],
        **aws,
    )
    retention = SnapshotRetentionOperator(
        task_id="retention",
        database=table.glue_database,
        table_name=table.lake_table,
        bucket=table.lake_bucket,
        prefix=table.lake_prefix,
        grace_period=timedelta(hours=config.retention.grace_hours),
        keep_last=config.retention.keep_last,
        **aws,
    )
    return {"publish": publish, "retention": retention}


def _report_task(config: TableConfig, tasks: dict[str, Any]) -> Any:
    from ddb_lake.operators.run_report import RunReportOperator

    return RunReportOperator(
        task_id="report",
        trigger_rule="none_failed",  # a skipped BigQuery publish (a newer interval is live) still gets its report
        publishes=[tasks["bigquery.publish"].output] if "bigquery.publish" in tasks else None,
        lake_publish=tasks["publish"].output if "publish" in tasks else None,  # the contract's widenings
        table=config.name,
        export=tasks["export"].output,
        conversion=tasks["convert"].output,
        validation=tasks["validate"].output,
        transfers=[tasks["bigquery.transfer_to_gcs"].output] if "bigquery.transfer_to_gcs" in tasks else None,
        loads=[tasks["bigquery.load"].output] if "bigquery.load" in tasks else None,
    )


def _scan_export_task(config: TableConfig, table: TablePlan, plan: Any, aws: dict) -> Any:
    """``export.mode: scan``: a rate-limited parallel Scan written as an export, in place of export and wait."""
    from dataclasses import asdict

    from ddb_lake.operators.dynamodb_scan_export import DynamoDBScanExportOperator

    where = {"table_name": table.dynamodb_table, "s3_bucket": table.lake_bucket, "s3_prefix": plan["export_prefix"],
             "export_time": plan["export_time"], "scan": asdict(config.export.scan), **aws}
    export = DynamoDBScanExportOperator(task_id="export", **where)  # reads what is left, then writes the manifests
    groups = config.export.scan.segment_groups
    if groups > 1:  # one mapped task per segment group reads the segments first
        DynamoDBScanExportOperator.partial(task_id="export_segments", **where).expand(
            segment_group=list(range(groups))) >> export
    return export
