"""Make Athena see a new snapshot partition: ADD IF NOT EXISTS PARTITION (default) or MSCK REPAIR TABLE."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.athena import AthenaHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from ddb_lake.compat import AirflowException, Context
from ddb_lake.core.lake import athena_sql
from ddb_lake.core.lake.layout import SNAPSHOT_PARTITION

MODES = ("add_partition", "msck_repair")


class AthenaPartitionRepairOperator(AwsBaseOperator[AthenaHook]):
    """Run the partition DDL through Athena with a deterministic ClientRequestToken and wait for it to succeed.

    ``sql`` is generated from the other fields when not given (the generated statement is what the UI's rendered
    template view shows); a ``.sql`` file from ``include/sql/`` may be passed instead and quotes through the
    ``athena_*`` Jinja filters. The token is derived from (dag, task, database, table, snapshot, SQL, try number),
    so a re-sent StartQueryExecution within one try never starts a second query.
    """

    template_fields: Sequence[str] = (
        "database", "table", "snapshot", "location", "output_location", "workgroup", "sql",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql"}
    aws_hook_class = AthenaHook

    def __init__(
        self,
        *,
        database: str,
        table: str,
        output_location: str,
        snapshot: str | None = None,
        location: str | None = None,
        mode: str = "add_partition",
        sql: str | None = None,
        workgroup: str = "primary",
        poll_interval: int = 2,
        max_polling_attempts: int = 300,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"{self.task_id}: mode must be one of {MODES}, got {mode!r}")
        self.database = database
        self.table = table
        self.output_location = output_location
        self.snapshot = snapshot
        self.location = location
        self.mode = mode
        self.sql = sql
        self.workgroup = workgroup
        self.poll_interval = poll_interval
        self.max_polling_attempts = max_polling_attempts

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render with the ``athena_*`` quoting filters added, then generate ``sql`` when none was given."""
        jinja_env = jinja_env or self.get_template_env()
        jinja_env.filters.update(athena_sql.SQL_FILTERS)
        super().render_template_fields(context, jinja_env)
        if self.sql is None:
            self.sql = self.build_sql()

    def build_sql(self) -> str:
        if self.mode == "msck_repair":
            return athena_sql.msck_repair(self.database, self.table)
        if not self.snapshot or not self.location:
            raise AirflowException(f"{self.task_id}: mode add_partition needs snapshot and location")
        return athena_sql.add_partition(self.database, self.table, {SNAPSHOT_PARTITION: self.snapshot}, self.location)

    def execute(self, context: Context) -> dict[str, Any]:
        sql = (self.sql or self.build_sql()).strip()
        ti = context.get("ti")
        token = athena_sql.client_request_token(
            self.dag_id, self.task_id, self.database, self.table, self.snapshot, sql, getattr(ti, "try_number", 1)
        )
        query_id = self.hook.run_query(
            sql,
            query_context={"Database": self.database},
            result_configuration={"OutputLocation": self.output_location},
            client_request_token=token,
            workgroup=self.workgroup,
        )
        state = self.hook.poll_query_status(query_id, self.max_polling_attempts, self.poll_interval)
        if state != "SUCCEEDED":
            reason = self.hook.get_state_change_reason(query_id)
            raise AirflowException(
                f"Athena query {query_id} on {self.database}.{self.table} ended {state}: {reason}\nSQL: {sql}"
            )
        return {"query_execution_id": query_id, "state": state, "sql": sql, "client_request_token": token}
