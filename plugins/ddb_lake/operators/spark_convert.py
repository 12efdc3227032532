"""``convert.engine: spark``: plan the EMR Serverless job's arguments, and read back what the job wrote.

``convert_spark_plan`` (this module) → ``convert_spark`` (the amazon provider's ``EmrServerlessStartJobOperator``,
deferrable) → ``convert`` (this module: the job's ``_manifest.json`` as the summary every later task reads).
"""

from __future__ import annotations

import json
from typing import Any

from ddb_lake.compat import Context, run_attempt
from ddb_lake.core.convert.storage import Storage, join_url
from ddb_lake.core.errors import NotFoundError
from ddb_lake.core.export.folders import finished_export
from ddb_lake.core.lake.layout import attempt_id, attempt_url
from ddb_lake.operators.export_to_parquet import ExportToParquetOperator


class SparkConvertPlanOperator(ExportToParquetOperator):
    """Return ``{"job_driver", "dest", "name"}`` for the run's Spark conversion (folders are the run's)."""

    def __init__(self, *, code_url: str, slices: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.code_url = code_url
        self.slices = slices

    def execute(self, context: Context) -> dict[str, Any]:
        from ddb_lake.spark.job_driver import spark_job_driver

        export = finished_export(self.export, self.task_id)
        run_id, _ = run_attempt(context)
        run = attempt_id(run_id, 1).rsplit("-try", 1)[0]
        dest = attempt_url(str(self.attempts_url), f"{run}-spark")
        previous = self.parsed_previous_schema()
        options = {"numbers": self.numbers, "pins": self.columns, "key_attributes": export.get("key_schema"),
                   "expected_items": export.get("item_count"),
                   "previous_schema": previous.to_json() if previous else None, **self.converter_options}
        driver = spark_job_driver(self.code_url, source=export["export_folder"], dest=dest,
                                  slices_url=f"{dest}-slices", slices=self.slices, options=options)
        self.log.info("Spark job for export %s: %s", export["export_folder"], json.dumps(driver))
        return {"job_driver": driver, "dest": dest, "name": f"ddb-lake-{export['table_name']}-{run}"[:256]}


class SparkConvertResultOperator(ExportToParquetOperator):
    """Return the Spark job's summary (its ``_manifest.json`` in ``spark_plan["dest"]``) as ``convert`` does."""

    template_fields = (*ExportToParquetOperator.template_fields, "spark_plan")

    def __init__(self, *, spark_plan: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spark_plan = spark_plan

    def execute(self, context: Context) -> dict[str, Any]:
        export = finished_export(self.export, self.task_id)
        dest = self.spark_plan["dest"]
        text = Storage(s3_client=self.hook.conn).read_text(join_url(dest, "_manifest.json"))
        if text is None:
            raise NotFoundError(f"Table {export['table_name']}: the Spark job left no _manifest.json in {dest}; "
                                "read its driver log in EMR Serverless (job name in the convert_spark task log)")
        summary = json.loads(text)
        self.log.info("Spark converted %s items into %d file(s) at %s", summary["items"], len(summary["files"]), dest)
        return {**summary, "snapshot_prefix": dest, "snapshot": self.snapshot, "attempt": dest.rsplit("=", 1)[1],
                "table_name": export["table_name"]}
