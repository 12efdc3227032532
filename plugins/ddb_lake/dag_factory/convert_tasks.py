"""The convert step past one worker: ``convert.engine: mapped`` (slice plan → convert_slice[n] → convert) and
``spark`` (convert_spark_plan → convert_spark on EMR Serverless, deferrable → convert)."""

from __future__ import annotations

from typing import Any

from ddb_lake.core.config.table_config import TableConfig


def _common(config: TableConfig, plan: Any, export: Any, contract: Any, aws: dict) -> dict[str, Any]:
    return {
        "export": export,
        "attempts_url": plan["attempts_url"],
        "snapshot": plan["snapshot"],
        "numbers": config.numbers,
        "previous_schema": contract.output["schema"] if contract is not None else None,
        "converter_options": config.convert.converter_options(),
        "columns": dict(config.columns),
        **aws,
    }


def fanned_out_convert_tasks(config: TableConfig, plan: Any, export: Any, contract: Any,
                             aws: dict) -> dict[str, Any]:
    """The tasks of ``convert.engine`` mapped, auto or spark; the last is ``convert``, whose summary later tasks read.

    ``auto`` has the mapped shape (the DAG's shape is fixed at parse time): its plan task chooses the slice count from
    the export's size at run time, one slice for exports one task converts (``core.convert.engine_choice``).
    """
    if config.convert.engine == "spark":
        return spark_convert_tasks(config, plan, export, contract, aws)
    return mapped_convert_tasks(config, plan, export, contract, aws)


def mapped_convert_tasks(config: TableConfig, plan: Any, export: Any, contract: Any, aws: dict) -> dict[str, Any]:
    """Create the three tasks; ``convert`` (the commit) returns the summary every later task reads."""
    from ddb_lake.operators.export_slices import ConvertSliceOperator, ExportSlicePlanOperator, UnifySlicesOperator

    common = _common(config, plan, export, contract, aws)
    slice_plan = ExportSlicePlanOperator(task_id="convert_slice_plan", slices=config.convert.slices,
                                         auto=config.convert.engine == "auto", **common)
    slices = ConvertSliceOperator.partial(task_id="convert_slice", **common).expand(data_slice=slice_plan.output)
    commit = UnifySlicesOperator(task_id="convert", slices=slices.output, **common)
    return {"convert_slice_plan": slice_plan, "convert_slice": slices, "convert": commit}


def spark_convert_tasks(config: TableConfig, plan: Any, export: Any, contract: Any, aws: dict) -> dict[str, Any]:
    """Plan the job's arguments, run it on EMR Serverless (deferrable), read its summary back in ``convert``."""
    from airflow.providers.amazon.aws.operators.emr import EmrServerlessStartJobOperator

    from ddb_lake.operators.spark_convert import SparkConvertPlanOperator, SparkConvertResultOperator

    common = _common(config, plan, export, contract, aws)
    spark_plan = SparkConvertPlanOperator(task_id="convert_spark_plan", code_url=config.convert.spark_code_url,
                                          slices=config.convert.slices, **common)
    job = EmrServerlessStartJobOperator(
        task_id="convert_spark", application_id=config.convert.spark_application_id,
        execution_role_arn=config.convert.spark_role_arn, job_driver=spark_plan.output["job_driver"],
        name=spark_plan.output["name"], deferrable=True, waiter_delay=config.export.poll_seconds, **aws)
    result = SparkConvertResultOperator(task_id="convert", spark_plan=spark_plan.output, **common)
    job >> result
    return {"convert_spark_plan": spark_plan, "convert_spark": job, "convert": result}
