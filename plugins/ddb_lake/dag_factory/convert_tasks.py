"""The convert step as mapped tasks (``convert.engine: mapped``): slice plan → convert_slice[n] → convert (commit)."""

from __future__ import annotations

from typing import Any

from ddb_lake.core.config.table_config import TableConfig


def mapped_convert_tasks(config: TableConfig, plan: Any, export: Any, contract: Any, aws: dict) -> dict[str, Any]:
    """Create the three tasks; ``convert`` (the commit) returns the summary every later task reads."""
    from ddb_lake.operators.export_slices import ConvertSliceOperator, ExportSlicePlanOperator, UnifySlicesOperator

    common = {
        "export": export,
        "attempts_url": plan["attempts_url"],
        "snapshot": plan["snapshot"],
        "numbers": config.numbers,
        "previous_schema": contract.output["schema"] if contract is not None else None,
        "converter_options": config.convert.converter_options(),
        "columns": dict(config.columns),
        **aws,
    }
    slice_plan = ExportSlicePlanOperator(task_id="convert_slice_plan", slices=config.convert.slices, **common)
    slices = ConvertSliceOperator.partial(task_id="convert_slice", **common).expand(data_slice=slice_plan.output)
    commit = UnifySlicesOperator(task_id="convert", slices=slices.output, **common)
    return {"convert_slice_plan": slice_plan, "convert_slice": slices, "convert": commit}
