"""Convert a finished DynamoDB export to typed Parquet in the lake with the core converter."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from ddb_lake.compat import Context
from ddb_lake.core.errors import ExportFormatError, SchemaError
from ddb_lake.core.export.folders import finished_export
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks.lake_storage import LakeStorageHook
from ddb_lake.operators.base import ClassifiedErrors


class ExportToParquetOperator(ClassifiedErrors, AwsBaseOperator[LakeStorageHook]):
    """Convert the export to Parquet under ``dest_url``; return the converter summary.

    Reads the export and writes the Parquet through the AWS connection's S3 client (refreshing credentials, endpoint,
    botocore config). The summary's ``schema`` (LakeSchema JSON) is what the catalog tasks build the Glue and BigQuery
    tables from. ``dest_url`` is deterministic per export interval, so a rerun rewrites the same snapshot.

    :param export: the export task's result, ``export_task.output`` (a dict once resolved); its ``key_schema`` types
        the key columns of an export holding no item.
    :param dest_url: ``s3://`` (or local) folder of the converted snapshot: the run plan's ``snapshot_url``.
    :param snapshot: the snapshot's partition value: the run plan's ``snapshot``.
    :param previous_schema: the table's current LakeSchema (JSON dict or string), so columns evolve additively.
    :param converter_options: extra keyword arguments for ``convert_export`` (e.g. ``row_group_size``).
    :param columns: pinned column types, ``{attribute: "decimal(18,4)"}`` (the table's YAML ``columns``); a value
        that does not fit fails the task terminally, naming the item's key and the setting.
    """

    template_fields: Sequence[str] = ("export", "dest_url", "snapshot", "numbers", "previous_schema")
    ui_color = "#f4a259"
    aws_hook_class = LakeStorageHook

    def __init__(
        self,
        *,
        export: dict[str, Any],
        dest_url: str,
        snapshot: str,
        numbers: str = "exact",
        previous_schema: dict[str, Any] | str | None = None,
        converter_options: dict[str, Any] | None = None,
        columns: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.export = export
        self.dest_url = dest_url
        self.snapshot = snapshot
        self.numbers = numbers
        self.previous_schema = previous_schema
        self.converter_options = converter_options or {}
        self.columns = dict(columns or {})

    def execute(self, context: Context) -> dict[str, Any]:
        from ddb_lake.core.convert.converter import convert_export

        export = finished_export(self.export, self.task_id)
        self.log.info(
            "Converting export %s of table %s (%s items expected) from %s to %s",
            export.get("export_arn"), export["table_name"], export.get("item_count"), export["export_folder"],
            self.dest_url,
        )
        try:
            summary = convert_export(
                export["export_folder"],
                self.dest_url,
                expected_items=export.get("item_count"),
                numbers=self.numbers,
                s3_client=self.hook.conn,
                previous_schema=self.parsed_previous_schema(),
                key_attributes=export.get("key_schema"),
                pins=self.columns,
                progress=self.log_progress,
                **self.converter_options,
            )
        except ExportFormatError as error:
            raise ExportFormatError(
                f"Export {export.get('export_arn')} of table {export['table_name']} cannot be converted: {error}. "
                "Retrying will not help; inspect the file named above."
            ) from error
        except SchemaError as error:
            raise type(error)(f"Table {export['table_name']}, export {export.get('export_arn')}: {error}") from error
        self.log.info(
            "Converted %s items of table %s into %d Parquet files (%s bytes) at %s",
            summary.get("items"), export["table_name"], len(summary.get("files", [])), summary.get("bytes_out"),
            self.dest_url,
        )
        planned = {"snapshot_prefix": self.dest_url, "snapshot": self.snapshot, "table_name": export["table_name"]}
        return {**summary, **planned}

    def parsed_previous_schema(self) -> LakeSchema | None:
        if self.previous_schema in (None, "", "None"):
            return None
        data = self.previous_schema
        return LakeSchema.from_json(json.loads(data) if isinstance(data, str) else data)

    def log_progress(self, message: str) -> None:
        """Progress callback for the converter."""
        self.log.info("convert progress: %s", message)
