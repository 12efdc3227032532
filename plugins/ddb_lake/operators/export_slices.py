"""``convert.engine: mapped``: the convert step as Airflow mapped tasks over slices of the export's data files.

``convert_slice_plan`` (the slices) → ``convert_slice`` (one mapped task per slice; a failed slice retries alone, a
rerun of a finished one is a no-op) → ``convert`` (unifies the slices' schemas, writes this try's attempt folder and
its ``_manifest.json``; its result is the same summary the one-task ``convert`` returns). Rules live in
``core.convert.export_slices``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ddb_lake.compat import Context, run_attempt
from ddb_lake.core.convert.dest_ownership import check_unpublished
from ddb_lake.core.convert.storage import Storage
from ddb_lake.core.export.folders import finished_export
from ddb_lake.core.lake.layout import attempt_id, attempt_url
from ddb_lake.operators.export_to_parquet import ExportToParquetOperator, naming_table


class ExportSlicePlanOperator(ExportToParquetOperator):
    """Split the export's data files into ``slices`` slices of about equal gzip bytes; return them as a list."""

    def __init__(self, *, slices: int, auto: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slices = slices
        self.auto = auto  # convert.engine auto: slices is the most; the export's size chooses (logged with why)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from ddb_lake.core.convert.export_slices import export_slice_plan

        export = finished_export(self.export, self.task_id)
        plan = export_slice_plan(export["export_folder"], self.slices, Storage(s3_client=self.hook.conn),
                                 auto=self.auto, note=self.log.info)
        self.log.info("Export %s: %d data file(s) in %d slice(s): %s", export["export_folder"],
                      sum(len(s["files"]) for s in plan), len(plan), [(s["files"], s["bytes"]) for s in plan])
        return plan


class ConvertSliceOperator(ExportToParquetOperator):
    """Convert one slice (a mapped task: ``.partial(...).expand(data_slice=plan.output)``) into the run's slices folder.

    The folder is the run's, not the try's (``attempt=<run>-slices/slice=<n>/``): a retry or a rerun of a finished
    slice with the same inputs finds its ``_slice.json`` and returns it without converting.
    """

    template_fields: Sequence[str] = (*ExportToParquetOperator.template_fields, "data_slice")

    def __init__(self, *, data_slice: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_slice = data_slice

    def execute(self, context: Context) -> dict[str, Any]:
        from ddb_lake.core.convert.export_slices import convert_slice

        export = finished_export(self.export, self.task_id)
        with naming_table(export):
            record = convert_slice(
                export["export_folder"], slices_folder(self.attempts_url, context), self.data_slice["slice"],
                self.data_slice["files"], storage=Storage(s3_client=self.hook.conn), numbers=self.numbers,
                previous_schema=self.parsed_previous_schema(), key_attributes=export.get("key_schema"),
                pins=self.columns, progress=self.log_progress, **self.converter_options)
        self.log.info("Slice %s: %s items from %s (%s)", self.data_slice["slice"], record["items"],
                      self.data_slice["names"], "reused, nothing converted" if record["reused"] else "converted")
        return record


class UnifySlicesOperator(ExportToParquetOperator):
    """Unify the converted slices into this try's attempt folder; return the converter summary (as ``convert``)."""

    template_fields: Sequence[str] = (*ExportToParquetOperator.template_fields, "slices")

    def __init__(self, *, slices: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slices = slices

    def execute(self, context: Context) -> dict[str, Any]:
        from ddb_lake.core.convert.export_slices import unify_slices

        export = finished_export(self.export, self.task_id)
        attempt, dest = self.destination(context)
        storage = Storage(s3_client=self.hook.conn)
        check_unpublished(dest, storage.list_names(dest), attempts_too=False)
        with naming_table(export):
            summary = unify_slices(
                export["export_folder"], dest, list(self.slices), storage=storage,
                expected_items=export.get("item_count"), numbers=self.numbers,
                previous_schema=self.parsed_previous_schema(), key_attributes=export.get("key_schema"),
                pins=self.columns, progress=self.log_progress, **self.converter_options)
        planned = {"snapshot_prefix": dest, "snapshot": self.snapshot, "attempt": attempt,
                   "table_name": export["table_name"]}
        return {**summary, **planned}


def slices_folder(attempts_url: str | None, context: Context) -> str:
    """``<attempts_url>/attempt=<run slug>-<hash>-slices``: one folder per run, shared by its slices' tries."""
    run_id, _ = run_attempt(context)
    return attempt_url(str(attempts_url), attempt_id(run_id, 1).rsplit("-try", 1)[0] + "-slices")
