"""Convert a finished DynamoDB export to typed Parquet in the lake with the core converter."""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from ddb_lake.compat import AirflowFailException, Context
from ddb_lake.core.errors import ExportFormatError
from ddb_lake.core.lake.layout import TableLayout, utc_stamp
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks.dynamodb_export import INCREMENTAL_EXPORT, as_utc
from ddb_lake.hooks.lake_storage import LakeStorageHook

# The trailing parts of an export prefix below the lake prefix: exports/<table>/<full|incremental>/<stamp>.
_EXPORT_PREFIX_DEPTH = 4


def parse_export(export: dict[str, Any] | str) -> dict[str, Any]:
    """The export task's XCom value, whether it arrives as a dict, JSON, or a rendered Python literal."""
    if isinstance(export, dict):
        return export
    text = str(export).strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = ast.literal_eval(text)
    if not isinstance(parsed, dict):
        raise ValueError(f"export must be the export task's result (a dict), got {text[:200]!r}")
    return parsed


def lake_prefix_of(export: dict[str, Any]) -> str:
    """The lake prefix the export was laid out under (``lake_prefix`` if given, else derived from ``s3_prefix``)."""
    if export.get("lake_prefix") is not None:
        return export["lake_prefix"]
    parts = [p for p in str(export["s3_prefix"]).split("/") if p]
    return "/".join(parts[:-_EXPORT_PREFIX_DEPTH])


def destination_of(export: dict[str, Any], bucket: str, prefix: str) -> tuple[str, str]:
    """(destination key, snapshot stamp): ``snapshot_prefix`` for a full export, ``changes_prefix`` otherwise."""
    layout = TableLayout(bucket, prefix, export.get("lake_table") or export["table_name"])
    export_time = as_utc(datetime.fromisoformat(export["export_time"]))
    if export.get("export_type") == INCREMENTAL_EXPORT:
        window_start = as_utc(datetime.fromisoformat(export["window_start"]))
        return layout.changes_prefix(window_start, export_time), f"{utc_stamp(window_start)}-{utc_stamp(export_time)}"
    return layout.snapshot_prefix(export_time), utc_stamp(export_time)


class ExportToParquetOperator(AwsBaseOperator[LakeStorageHook]):
    """Convert the export to Parquet under the table's snapshot (or changes) prefix; return the converter summary.

    Reads the export and writes the Parquet through the AWS connection's credentials and endpoint. The summary's
    ``schema`` (LakeSchema JSON) is what the catalog tasks build the Glue and BigQuery tables from. The destination
    is deterministic per export interval, so a rerun rewrites the same snapshot rather than adding one.

    :param export: the export task's result, e.g. ``export_task.output`` (dict) or a template rendering to it.
    :param dest_url: ``s3://`` (or local) destination; default: the TableLayout prefix of the export's interval.
    :param previous_schema: the table's current LakeSchema (JSON dict or string), so columns evolve additively.
    :param converter_options: extra keyword arguments for ``convert_export`` (e.g. ``row_group_size``).
    """

    template_fields: Sequence[str] = ("export", "dest_url", "lake_bucket", "lake_prefix", "numbers", "previous_schema")
    ui_color = "#f4a259"
    aws_hook_class = LakeStorageHook

    def __init__(
        self,
        *,
        export: dict[str, Any] | str,
        dest_url: str | None = None,
        lake_bucket: str | None = None,
        lake_prefix: str | None = None,
        numbers: str = "exact",
        previous_schema: dict[str, Any] | str | None = None,
        converter_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.export = export
        self.dest_url = dest_url
        self.lake_bucket = lake_bucket
        self.lake_prefix = lake_prefix
        self.numbers = numbers
        self.previous_schema = previous_schema
        self.converter_options = converter_options or {}

    def execute(self, context: Context) -> dict[str, Any]:
        from ddb_lake.core.convert.converter import convert_export

        export = parse_export(self.export)
        if not export.get("export_folder"):
            raise AirflowFailException(
                f"Export {export.get('export_arn')} of table {export.get('table_name')} has no export_folder: "
                "it has not completed. Run the export task with wait_for_completion=True first."
            )
        bucket = self.lake_bucket or export["s3_bucket"]
        prefix = self.lake_prefix if self.lake_prefix is not None else lake_prefix_of(export)
        dest_key, stamp = destination_of(export, bucket, prefix)
        dest_url = self.dest_url or f"s3://{bucket}/{dest_key}"
        self.log.info(
            "Converting export %s of table %s (%s items expected) from %s to %s",
            export.get("export_arn"), export["table_name"], export.get("item_count"), export["export_folder"], dest_url,
        )
        try:
            summary = convert_export(
                export["export_folder"],
                dest_url,
                expected_items=export.get("item_count"),
                numbers=self.numbers,
                storage_options=self.hook.storage_options(),
                previous_schema=self.parsed_previous_schema(),
                progress=self.log_progress,
                **self.converter_options,
            )
        except ExportFormatError as error:
            raise AirflowFailException(
                f"Export {export.get('export_arn')} of table {export['table_name']} cannot be converted: {error}. "
                "Retrying will not help; inspect the file named above."
            ) from error
        self.log.info(
            "Converted %s items of table %s into %d Parquet files (%s bytes) at %s",
            summary.get("items"), export["table_name"], len(summary.get("files", [])), summary.get("bytes_out"),
            dest_url,
        )
        return {**summary, "snapshot_prefix": dest_url, "snapshot": stamp, "table_name": export["table_name"]}

    def parsed_previous_schema(self) -> LakeSchema | None:
        if self.previous_schema in (None, "", "None"):
            return None
        data = self.previous_schema
        return LakeSchema.from_json(json.loads(data) if isinstance(data, str) else data)

    def log_progress(self, message: str) -> None:
        """Progress callback for the converter."""
        self.log.info("convert progress: %s", message)
