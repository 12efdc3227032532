"""Convert a finished DynamoDB export to typed Parquet in the lake with the core converter."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from ddb_lake.compat import Context, run_attempt
from ddb_lake.core.convert.dest_ownership import check_unpublished
from ddb_lake.core.convert.storage import Storage
from ddb_lake.core.errors import ExportFormatError, SchemaError
from ddb_lake.core.export.folders import finished_export
from ddb_lake.core.lake.errors import LakeConfigError
from ddb_lake.core.lake.layout import attempt_id, attempt_url
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks.lake_storage import LakeStorageHook
from ddb_lake.links import S3SnapshotLink
from ddb_lake.operators.base import ClassifiedErrors


class ExportToParquetOperator(ClassifiedErrors, AwsBaseOperator[LakeStorageHook]):
    """Convert the export to Parquet in a folder of this task try's own; return the converter summary.

    Reads the export and writes the Parquet through the AWS connection's S3 client (refreshing credentials, endpoint,
    botocore config). The summary's ``schema`` (LakeSchema JSON) is what the catalog tasks build the Glue and BigQuery
    tables from; its ``snapshot_prefix`` is the folder written, which every later task reads (never the plan's).
    With ``attempts_url`` (the DAG's way) each try writes ``<attempts_url>/attempt=<id>/``, the id made of the run
    id and try number (``core.lake.layout.attempt_id``): a first run, a retry and a rerun never write into a folder a
    reader or another try uses, and a killed try leaves only an attempt folder no pointer names.

    :param export: the export task's result, ``export_task.output`` (a dict once resolved); its ``key_schema`` types
        the key columns of an export holding no item.
    :param attempts_url: the run plan's ``attempts_url``: each try writes its own ``attempt=<id>/`` below it.
    :param dest_url: instead of ``attempts_url``: one fixed folder written in place, under the converter's ownership
        rules (``core.convert.dest_ownership``), as the CLI does; a rerun replaces its own files there, unless a
        table was switched to it (a publish marker there refuses it).
    :param snapshot: the snapshot's partition value: the run plan's ``snapshot``.
    :param previous_schema: the table's current LakeSchema (JSON dict or string), so columns evolve additively.
    :param converter_options: extra keyword arguments for ``convert_export`` (e.g. ``row_group_size``).
    :param columns: pinned column types, ``{attribute: "decimal(18,4)"}`` (the table's YAML ``columns``); a value
        that does not fit fails the task terminally, naming the item's key and the setting.
    """

    operator_extra_links = (S3SnapshotLink(),)
    template_fields: Sequence[str] = ("export", "dest_url", "attempts_url", "snapshot", "numbers", "previous_schema")
    ui_color = "#f4a259"
    aws_hook_class = LakeStorageHook

    def __init__(
        self,
        *,
        export: dict[str, Any],
        snapshot: str,
        dest_url: str | None = None,
        attempts_url: str | None = None,
        numbers: str = "exact",
        previous_schema: dict[str, Any] | str | None = None,
        converter_options: dict[str, Any] | None = None,
        columns: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (dest_url is None) == (attempts_url is None):
            raise LakeConfigError(f"{self.task_id}: pass exactly one of attempts_url (the run plan's, one folder per "
                                  f"try) and dest_url (one fixed folder); got {dest_url!r} and {attempts_url!r}")
        self.export = export
        self.dest_url = dest_url
        self.attempts_url = attempts_url
        self.snapshot = snapshot
        self.numbers = numbers
        self.previous_schema = previous_schema
        self.converter_options = converter_options or {}
        self.columns = dict(columns or {})

    def execute(self, context: Context) -> dict[str, Any]:
        from ddb_lake.core.convert.converter import convert_export

        export = finished_export(self.export, self.task_id)
        attempt, dest = self.destination(context)
        check_unpublished(dest, Storage(s3_client=self.hook.conn).list_names(dest), attempts_too=False)
        self.log.info(
            "Converting export %s of table %s (%s items expected) from %s to %s",
            export.get("export_arn"), export["table_name"], export.get("item_count"), export["export_folder"], dest,
        )
        with naming_table(export):
            summary = convert_export(
                export["export_folder"],
                dest,
                expected_items=export.get("item_count"),
                numbers=self.numbers,
                s3_client=self.hook.conn,
                previous_schema=self.parsed_previous_schema(),
                key_attributes=export.get("key_schema"),
                pins=self.columns,
                progress=self.log_progress,
                **self.converter_options,
            )
        self.log.info(
            "Converted %s items of table %s into %d Parquet files (%s bytes) at %s",
            summary.get("items"), export["table_name"], len(summary.get("files", [])), summary.get("bytes_out"), dest,
        )
        planned = {"snapshot_prefix": dest, "snapshot": self.snapshot, "attempt": attempt,
                   "table_name": export["table_name"]}
        return {**summary, **planned}

    def destination(self, context: Context) -> tuple[str | None, str]:
        """(attempt id, folder to write): this try's attempt folder, or the fixed ``dest_url`` (attempt None)."""
        if self.attempts_url is None:
            return None, str(self.dest_url)
        run_id, try_number = run_attempt(context)
        if not run_id:
            raise LakeConfigError(f"{self.task_id}: attempts_url needs the task's run id to name this try's folder "
                                  "(run it as an Airflow task, or pass dest_url to write one fixed folder)")
        attempt = attempt_id(run_id, try_number)
        return attempt, attempt_url(self.attempts_url, attempt)

    def parsed_previous_schema(self) -> LakeSchema | None:
        if self.previous_schema in (None, "", "None"):
            return None
        data = self.previous_schema
        return LakeSchema.from_json(json.loads(data) if isinstance(data, str) else data)

    def log_progress(self, message: str) -> None:
        """Progress callback for the converter."""
        self.log.info("convert progress: %s", message)


@contextmanager
def naming_table(export: dict[str, Any]) -> Iterator[None]:
    """Re-raise an export's format or schema error with its table and export named (every convert task uses it)."""
    try:
        yield
    except ExportFormatError as error:
        raise ExportFormatError(
            f"Export {export.get('export_arn')} of table {export['table_name']} cannot be converted: {error}. "
            "Retrying will not help; inspect the file named above."
        ) from error
    except SchemaError as error:
        raise type(error)(f"Table {export['table_name']}, export {export.get('export_arn')}: {error}") from error
