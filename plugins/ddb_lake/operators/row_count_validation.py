"""Row counts of one snapshot in every copy (export, Parquet, Athena, BigQuery) compared; publish waits on this."""

from __future__ import annotations

from datetime import date
from functools import cached_property
from typing import Any

from ddb_lake.compat import AirflowException, BaseOperator, Context
from ddb_lake.core.lake import athena_sql
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.core.validation.row_counts import CountSource, compare_counts
from ddb_lake.destinations.bigquery.load_hook import DEFAULT_API_DEADLINE, BigQueryLoadHook
from ddb_lake.destinations.bigquery.load_job import BigQueryDestination
from ddb_lake.destinations.bigquery.schema import bigquery_fields
from ddb_lake.destinations.bigquery.transfer_operator import snapshot_of
from ddb_lake.hooks.snapshot_counts import SnapshotCountsHook
from ddb_lake.operators.glue_catalog import snapshots_table_name


class RowCountValidationOperator(BaseOperator):
    """Fail unless every exact count of the snapshot agrees (within ``tolerance``), and the key checksums match.

    Exact counts: the export's item count, the sum of the Parquet footers' row counts, Athena's ``COUNT(*)`` of the
    snapshot partition (when ``athena_database`` is set) and BigQuery's ``COUNT(*)`` of the loaded day (when
    ``load_task_id`` is set). DescribeTable's ``ItemCount`` is shown for a person's eye only. With ``key_columns``, the
    sum of a 32-bit hash of each row's key is compared between the Parquet files and BigQuery. Returns the report.
    """

    template_fields = (
        "export_task_id",
        "convert_task_id",
        "load_task_id",
        "athena_database",
        "athena_table",
        "athena_output_location",
        "athena_workgroup",
        "key_columns",
        "tolerance",
    )
    ui_color = "#fff3e0"

    def __init__(
        self,
        *,
        export_task_id: str = "export",
        convert_task_id: str = "convert",
        load_task_id: str | None = "load_bigquery",
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
        self.export_task_id = export_task_id
        self.convert_task_id = convert_task_id
        self.load_task_id = load_task_id
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

    @cached_property
    def bigquery(self) -> BigQueryLoadHook:
        return BigQueryLoadHook(self.gcp_conn_id, self.location, self.api_deadline)

    def execute(self, context: Context) -> dict[str, Any]:
        export = context["ti"].xcom_pull(task_ids=self.export_task_id) or {}
        summary = snapshot_of(context, self.convert_task_id)
        load = context["ti"].xcom_pull(task_ids=self.load_task_id) if self.load_task_id else None
        table_name = export.get("table_name") or summary.get("table_name") or "?"
        try_number = int(getattr(context["ti"], "try_number", 1) or 1)
        sources, athena_statistics = self.count_sources(export, summary, load, try_number)
        report = compare_counts(
            sources,
            table=table_name,
            snapshot=summary["snapshot"],
            reference="dynamodb_export",
            tolerance=self.tolerance,
        )
        out = report.to_xcom()
        if athena_statistics:
            out["athena_statistics"] = athena_statistics
        problems = list(report.problems)
        if self.key_columns and load:
            out["key_checksum"] = self.key_checksums(summary, load)
            if not out["key_checksum"]["ok"]:
                problems.append(out["key_checksum"]["message"])
        text = report.render()
        if "key_checksum" in out:
            text += "\n" + out["key_checksum"]["message"]
        self.log.info("%s", text)
        out["ok"] = not problems
        out["problems"] = problems
        out["report_text"] = text
        if problems:
            raise AirflowException(f"{table_name} snapshot {summary['snapshot']} is not published:\n{text}")
        return out

    def count_sources(
        self, export: dict[str, Any], summary: dict[str, Any], load: dict[str, Any] | None, try_number: int
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
            count, athena_statistics = self.athena_count(summary, try_number)
            sources.append(CountSource("athena", count, note="COUNT(*) of the snapshot partition"))
        if load:
            dest, day = destination_of(load)
            sources.append(CountSource("bigquery", self.bigquery.count_rows(dest, day), note=f"{load['table_id']}"))
        return sources, athena_statistics

    def athena_count(self, summary: dict[str, Any], try_number: int) -> tuple[int, dict[str, Any]]:
        """The snapshot's ``COUNT(*)`` in Athena and the query's statistics.

        The token includes the try number: Athena answers a reused token with the earlier execution, so a retry
        must count afresh rather than read the result that made the previous try fail.
        """
        lake_table = summary["snapshot_prefix"].rstrip("/").split("/")[-2]  # <prefix>/snapshots/<table>/snapshot=...
        table = snapshots_table_name(lake_table, self.athena_table)
        sql = athena_sql.count_rows(self.athena_database, table, summary["snapshot"])
        token = athena_sql.client_request_token(
            "count", self.athena_database, table, summary["snapshot"], self.dag_id, self.task_id, try_number
        )
        return self.aws.athena_count(
            sql,
            database=self.athena_database,
            output_location=self.athena_output_location,
            workgroup=self.athena_workgroup,
            token=token,
        )

    def key_checksums(self, summary: dict[str, Any], load: dict[str, Any]) -> dict[str, Any]:
        """Sum of key hashes in the Parquet files and in BigQuery's copy: equal when the same keys arrived."""
        keys = list(self.key_columns or [])
        types = {f["name"]: f["type"] for f in bigquery_fields(LakeSchema.from_json(summary["schema"]))}
        missing = [k for k in keys if k not in types]
        if missing:
            raise AirflowException(f"key column(s) {missing} are not in the snapshot; columns: {sorted(types)}")
        parquet_rows, parquet_sum = self.aws.parquet_key_checksum([f["path"] for f in summary["files"]], keys)
        dest, day = destination_of(load)
        bq_rows, bq_sum = self.bigquery.key_checksum(dest, day, [(k, types[k]) for k in keys])
        ok = parquet_sum == bq_sum and parquet_rows == bq_rows
        verdict = "match" if ok else "DIFFER"
        message = (
            f"key checksum over ({', '.join(keys)}): parquet {parquet_sum} ({parquet_rows} rows), "
            f"bigquery {bq_sum} ({bq_rows} rows): {verdict}"
        )
        return {"columns": keys, "parquet": parquet_sum, "bigquery": bq_sum, "ok": ok, "message": message}


def destination_of(load: dict[str, Any]) -> tuple[BigQueryDestination, date]:
    """The BigQuery destination and day a load task reported."""
    dest = BigQueryDestination(load["project_id"], load["dataset"], load["table"], load.get("layout", "partitioned"))
    return dest, date.fromisoformat(load["day"])
