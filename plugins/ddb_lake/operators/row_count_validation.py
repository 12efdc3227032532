"""Row counts of one snapshot in every copy (export, Parquet, Athena, each destination), compared before publishing."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from ddb_lake.compat import BaseOperator, Context, run_attempt
from ddb_lake.core.errors import ConfigError, ValidationFailedError
from ddb_lake.core.lake import athena_sql
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.core.validation.row_counts import CountSource, compare_counts, compare_key_checksums, require_key_columns
from ddb_lake.core.validation.snapshot_summary import snapshot_summary
from ddb_lake.destinations import Destination, destination_name, destination_named
from ddb_lake.hooks.snapshot_counts import SnapshotCountsHook
from ddb_lake.operators.base import ClassifiedErrors

DEFAULT_API_DEADLINE = 120.0
"""Seconds a destination's client keeps retrying one call on a transient error."""

LoadedCopy = tuple[Destination, dict[str, Any]]


class RowCountValidationOperator(ClassifiedErrors, BaseOperator):
    """Fail unless every exact count of the snapshot agrees (within ``tolerance``), and the key checksums match.

    Exact counts: the export's item count, the sum of the Parquet footers' row counts, Athena's ``COUNT(*)`` of the
    snapshot partition (when ``athena_database`` is set) and, for each load result in ``loads``, its destination's
    count of the loaded copy (found by the result's ``destination``). DescribeTable's ``ItemCount`` is shown for a
    person's eye only. With ``key_columns``, the sum of a 32-bit hash of each row's key is compared between the
    Parquet files and every destination. Returns the report; raises ``ValidationFailedError`` with it otherwise.

    :param export: the export task's result (``item_count``, ``table_name``).
    :param snapshot: the convert task's summary (``files``, ``snapshot``, ``schema``).
    :param loads: the destinations' load results, e.g. ``[load.output]``.
    :param athena_table: the partitioned table to count in (the run plan's ``history_table``).
    """

    template_fields = (
        "export",
        "snapshot",
        "loads",
        "athena_database",
        "athena_table",
        "athena_output_location",
        "athena_workgroup",
        "key_columns",
        "tolerance",
        "validation_report",
    )
    ui_color = "#fff3e0"
    # The report replaces this field's rendered value when the task ends: the task's "Rendered Templates" shows it.
    overwrite_rtif_after_execution = True

    def __init__(
        self,
        *,
        export: dict[str, Any],
        snapshot: dict[str, Any],
        loads: Sequence[dict[str, Any]] | None = None,
        athena_database: str | None = None,
        athena_table: str | None = None,
        athena_output_location: str | None = None,
        athena_workgroup: str = "primary",
        key_columns: list[str] | None = None,
        tolerance: int = 0,
        aws_conn_id: str | None = "aws_default",
        gcp_conn_id: str = "google_cloud_default",
        location: str | None = None,
        api_deadline: float = DEFAULT_API_DEADLINE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.validation_report = ""
        self.export = export
        self.snapshot = snapshot
        self.loads = loads
        self.athena_database = athena_database
        self.athena_table = athena_table
        self.athena_output_location = athena_output_location
        self.athena_workgroup = athena_workgroup
        self.key_columns = key_columns
        self.tolerance = tolerance
        self.aws_conn_id = aws_conn_id
        self.gcp_conn_id = gcp_conn_id
        self.location = location
        self.api_deadline = api_deadline

    @cached_property
    def aws(self) -> SnapshotCountsHook:
        return SnapshotCountsHook(self.aws_conn_id)

    def loaded_copies(self) -> list[LoadedCopy]:
        """Each load result with the destination that reads it back (built with this task's connections)."""
        settings = {
            "aws_conn_id": self.aws_conn_id,
            "gcp_conn_id": self.gcp_conn_id,
            "location": self.location,
            "api_deadline": self.api_deadline,
        }
        return [(destination_named(destination_name(load), settings), load) for load in self.loads or ()]

    def execute(self, context: Context) -> dict[str, Any]:
        export, summary = self.export or {}, snapshot_summary(self.snapshot, "files", "snapshot", "schema")
        table_name = export.get("table_name") or summary.get("table_name") or "?"
        copies = self.loaded_copies()
        sources, athena_statistics = self.count_sources(export, summary, copies, run_attempt(context))
        report = compare_counts(
            sources, table=table_name, snapshot=summary["snapshot"], reference="dynamodb_export",
            tolerance=self.tolerance,
        )
        out = report.to_xcom()
        if athena_statistics:
            out["athena_statistics"] = athena_statistics
        problems, text = list(report.problems), report.render()
        if self.key_columns and copies:
            out["key_checksum"] = self.key_checksums(summary, copies)
            text += "\n" + out["key_checksum"]["message"]
            if not out["key_checksum"]["ok"]:
                problems.append(out["key_checksum"]["message"])
        self.log.info("%s", text)
        out.update(ok=not problems, problems=problems, report_text=text, summary=report.headline())
        self.validation_report = f"{out['summary']}\n\n{text}"
        if problems:
            raise ValidationFailedError(f"{table_name} snapshot {summary['snapshot']} is not published:\n{text}")
        return out

    def count_sources(
        self, export: dict[str, Any], summary: dict[str, Any], copies: list[LoadedCopy], attempt: tuple[str, int]
    ) -> tuple[list[CountSource], dict[str, Any] | None]:
        """Every copy's count, and the Athena query's statistics when Athena was asked."""
        files = [f["path"] for f in summary["files"]]
        sources = [CountSource("dynamodb_export", export.get("item_count"), note="export manifest / DescribeExport")]
        if export.get("table_name"):
            sources.append(
                CountSource(
                    "dynamodb_table_approx",
                    self.aws.approximate_item_count(export["table_name"]),
                    exact=False,
                    note="DescribeTable ItemCount, refreshed ~6 h: not a gate",
                )
            )
        footer_rows = sum(self.aws.parquet_footer_rows(url) for url in files)
        sources.append(CountSource("parquet_footers", footer_rows, note=f"{len(files)} file(s)"))
        athena_statistics = None
        if self.athena_database:
            count, athena_statistics = self.athena_count(summary["snapshot"], attempt)
            sources.append(CountSource("athena", count, note="COUNT(*) of the snapshot partition"))
        sources.extend(destination.row_count(load) for destination, load in copies)
        return sources, athena_statistics

    def athena_count(self, snapshot: str, attempt: tuple[str, int]) -> tuple[int, dict[str, Any]]:
        """The snapshot's ``COUNT(*)`` in Athena and the query's statistics.

        The token includes the run attempt (run_id, try number): Athena answers a reused token with the earlier
        execution, so a retry or a new run must count afresh rather than read the result that made one fail.
        """
        if not self.athena_table:
            raise ConfigError(f"task {self.task_id!r}: athena_database is set but athena_table is not")
        table = self.athena_table.lower()
        sql = athena_sql.count_rows(self.athena_database, table, snapshot)
        token = athena_sql.client_request_token(
            "count", self.athena_database, table, snapshot, self.dag_id, self.task_id, attempt=attempt
        )
        return self.aws.athena_count(
            sql,
            database=self.athena_database,
            output_location=self.athena_output_location,
            workgroup=self.athena_workgroup,
            token=token,
        )

    def key_checksums(self, summary: dict[str, Any], copies: list[LoadedCopy]) -> dict[str, Any]:
        """Sum of key hashes in the Parquet files and in each destination's copy: equal when the same keys arrived."""
        keys = list(self.key_columns or [])
        schema = LakeSchema.from_json(summary["schema"])
        require_key_columns(keys, schema)
        parquet = self.aws.parquet_key_checksum([f["path"] for f in summary["files"]], keys)
        sums = {destination.name: destination.key_checksum(load, keys, schema) for destination, load in copies}
        return compare_key_checksums(keys, parquet, sums)
