"""AWS-side counts of one snapshot: Parquet footers on S3, DescribeTable's approximate count, Athena's COUNT(*)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import pyarrow.parquet as pq

from ddb_lake.compat import AirflowException, BaseHook
from ddb_lake.core.convert.storage import split_url
from ddb_lake.core.validation.row_counts import (
    key_checksum_of_batches,
    parquet_footer_length,
    parquet_metadata_from_tail,
)
from ddb_lake.hooks._aws_connection import same_connection

TAIL_BYTES = 64 * 1024
"""First guess of how many trailing bytes hold a Parquet footer; a bigger footer costs one more ranged GET."""


class SnapshotCountsHook(BaseHook):
    """Reads counts without scanning data: ranged GETs of Parquet footers, DescribeTable, one Athena COUNT(*)."""

    def __init__(self, aws_conn_id: str | None = "aws_default", region_name: str | None = None) -> None:
        super().__init__()
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    @cached_property
    def s3_client(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        s3 = S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
        return same_connection(s3, self.dynamodb_hook).get_conn()

    @cached_property
    def dynamodb_hook(self) -> Any:
        """The DynamoDB client's hook; the S3 and Athena hooks share its connection (one lookup per task)."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        return AwsBaseHook(aws_conn_id=self.aws_conn_id, client_type="dynamodb", region_name=self.region_name)

    @cached_property
    def dynamodb_client(self) -> Any:
        return self.dynamodb_hook.conn

    @cached_property
    def athena_hook(self) -> Any:
        from airflow.providers.amazon.aws.hooks.athena import AthenaHook

        return same_connection(AthenaHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, log_query=True),
                               self.dynamodb_hook)

    def parquet_footer_rows(self, url: str) -> int:
        """Rows in one Parquet file on S3, from its footer only (one or two ranged GETs)."""
        bucket, key = split_url(url, "s3")
        tail = self._range(bucket, key, f"bytes=-{TAIL_BYTES}")
        needed = parquet_footer_length(tail) + 8
        if needed > len(tail):
            tail = self._range(bucket, key, f"bytes=-{needed}")
        return parquet_metadata_from_tail(tail).num_rows

    def _range(self, bucket: str, key: str, byte_range: str) -> bytes:
        return self.s3_client.get_object(Bucket=bucket, Key=key, Range=byte_range)["Body"].read()

    def parquet_key_checksum(self, urls: Sequence[str], key_columns: Sequence[str]) -> tuple[int, int]:
        """(rows, sum of key hashes) over the files, reading only the key columns (each file spooled to disk)."""
        rows = total = 0
        for url in urls:
            bucket, key = split_url(url, "s3")
            with tempfile.TemporaryFile() as spool:
                self.s3_client.download_fileobj(bucket, key, spool)
                spool.seek(0)
                batches = pq.ParquetFile(spool).iter_batches(columns=list(key_columns), batch_size=65536)
                file_rows, file_sum = key_checksum_of_batches(batches, key_columns)
            rows += file_rows
            total += file_sum
        return rows, total

    def approximate_item_count(self, table_name: str) -> int:
        """DescribeTable's ``ItemCount``: refreshed about every six hours, so only reported, never a gate."""
        return int(self.dynamodb_client.describe_table(TableName=table_name)["Table"]["ItemCount"])

    def athena_count(
        self,
        sql: str,
        *,
        database: str,
        output_location: str | None,
        workgroup: str = "primary",
        token: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Run one ``SELECT COUNT(*) AS row_count`` in Athena: (the number, the query's statistics).

        The statistics are ``{"query_execution_id", "data_scanned_bytes", "engine_millis", "queries"}``.
        """
        result_configuration = {"OutputLocation": output_location} if output_location else {}
        query_id = self.athena_hook.run_query(
            sql, {"Database": database}, result_configuration, client_request_token=token, workgroup=workgroup
        )
        state = self.athena_hook.poll_query_status(query_id, sleep_time=1)
        if state != "SUCCEEDED":
            reason = self.athena_hook.get_state_change_reason(query_id)
            raise AirflowException(f"Athena count {query_id} ended {state}: {reason} ({sql})")
        rows = (self.athena_hook.get_query_results(query_id) or {}).get("ResultSet", {}).get("Rows", [])
        execution = self.athena_hook.get_query_info(query_id).get("QueryExecution", {})
        statistics = execution.get("Statistics", {})
        return athena_scalar(rows, sql), {
            "query_execution_id": query_id,
            "data_scanned_bytes": int(statistics.get("DataScannedInBytes") or 0),
            "engine_millis": int(statistics.get("EngineExecutionTimeInMillis") or 0),
            "queries": 1,
        }


def athena_scalar(rows: list[dict[str, Any]], sql: str) -> int:
    """The number in an Athena result of one column: the header row, then one data row."""
    values = [[cell.get("VarCharValue") for cell in row.get("Data", [])] for row in rows]
    if len(values) != 2 or len(values[1]) != 1 or values[1][0] is None:
        raise AirflowException(f"expected a header and one number from Athena for {sql!r}, got {values}")
    try:
        return int(values[1][0])
    except ValueError as exc:
        raise AirflowException(f"Athena answered {values[1][0]!r} for {sql!r}, not a row count") from exc
