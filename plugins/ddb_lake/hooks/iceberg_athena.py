"""Athena and Glue calls of the Athena merge engine (``hooks.iceberg_athena_merge``): the window's Glue table and
the queries, each with a ClientRequestToken of its run attempt, waited for and failed with Athena's reason."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.athena import AthenaHook

from ddb_lake.core.lake.athena_query import query_failure
from ddb_lake.core.lake.athena_sql import client_request_token
from ddb_lake.hooks.lake_catalog import LakeCatalogHook

SUCCEEDED = "SUCCEEDED"


class AthenaMergeRunner:
    """Runs the engine's SQL in Athena (``output_location``, ``workgroup``) through the connection ``aws_conn_id``.

    :param attempt: ``(run_id, try number)``: a re-send within one try reattaches to its query, a retry starts anew
    """

    def __init__(self, *, aws_conn_id: str | None, region_name: str | None, output_location: str, workgroup: str,
                 attempt: tuple[str, int], table: str, poll_seconds: float = 2.0) -> None:
        self.aws_conn_id, self.region_name = aws_conn_id, region_name
        self.output_location, self.workgroup, self.attempt = output_location, workgroup, attempt
        self.table, self.poll_seconds = table, poll_seconds
        self.queries: list[dict[str, Any]] = []

    @cached_property
    def athena(self) -> AthenaHook:
        return AthenaHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, log_query=True)

    @cached_property
    def glue(self) -> LakeCatalogHook:
        return LakeCatalogHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)

    def register_window(self, database: str, wanted: dict[str, Any]) -> None:
        """Create the window's Glue table, or point it at this window (its columns replaced)."""
        client = self.glue.conn
        try:
            client.create_table(DatabaseName=database, TableInput=wanted)
        except client.exceptions.AlreadyExistsException:
            client.update_table(DatabaseName=database, TableInput=wanted)

    def query(self, sql: str, database: str, purpose: str, fetch: bool = True) -> list[list[str | None]]:
        """Run ``sql`` and wait; its data rows (header dropped) when ``fetch``. A failed query raises its classified
        error. ``purpose`` (with the export id) is part of the ClientRequestToken."""
        token = client_request_token(self.table, purpose, sql, attempt=self.attempt)
        query_id = self.athena.run_query(sql, {"Database": database}, {"OutputLocation": self.output_location},
                                         client_request_token=token, workgroup=self.workgroup)
        state = self.athena.poll_query_status(query_id, sleep_time=self.poll_seconds)  # type: ignore[arg-type]
        if state != SUCCEEDED:
            status = self.athena.get_query_info(query_id)["QueryExecution"]["Status"]
            raise query_failure(query_id, self.table, state, status, sql)
        self.queries.append({"purpose": purpose, "query_execution_id": query_id})
        if not fetch:
            return []
        rows = [row for page in self.athena.get_query_results_paginator(query_id) or []
                for row in page["ResultSet"]["Rows"]]
        return [[cell.get("VarCharValue") for cell in row["Data"]] for row in rows[1:]]
