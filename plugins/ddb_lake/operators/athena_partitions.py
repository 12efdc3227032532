"""Make Athena see a new snapshot partition: ADD IF NOT EXISTS PARTITION (default) or MSCK REPAIR TABLE."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.athena import AthenaHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from ddb_lake.compat import Context, run_attempt
from ddb_lake.core.lake import athena_sql
from ddb_lake.core.lake.athena_query import SUCCEEDED, query_failure
from ddb_lake.core.lake.convert_summary import require_summary
from ddb_lake.core.lake.errors import LakeConfigError
from ddb_lake.core.lake.glue_table import snapshot_location
from ddb_lake.core.lake.sql_templates import (
    MODE_TEMPLATES,
    MODES,
    SQL_DIR_ENV,
    render_sql_template,
    sql_template_dirs,
    with_sql_templates,
)
from ddb_lake.links import AthenaQueryLink
from ddb_lake.operators.base import ClassifiedErrors


class AthenaPartitionRepairOperator(ClassifiedErrors, AwsBaseOperator[AthenaHook]):
    """Run the partition DDL through Athena with a deterministic ClientRequestToken and wait for it to succeed.

    Without ``sql``, the statement is the mode's template in ``include/sql/`` (``add_snapshot_partition.sql``,
    ``msck_repair_table.sql``) rendered during template rendering with the other fields, so the UI's rendered
    template view shows it; the templates quote through the ``athena_*`` Jinja filters. ``sql`` may be another
    ``.sql`` file (found in the DAG's ``template_searchpath`` or the lake's SQL folder, see
    ``core.lake.sql_templates``) or a statement. ``convert_summary`` (convert's result) sets ``snapshot`` and
    ``location`` to the stamp and the folder convert wrote (its attempt folder), after the fields are rendered.
    The token is derived from (dag, task, database, table, snapshot,
    SQL) and the run attempt (run_id, try number): a re-sent StartQueryExecution within one try never starts a second
    query, and a new run or retry never replays an earlier FAILED one.
    """

    operator_extra_links = (AthenaQueryLink(),)
    template_fields: Sequence[str] = (
        "database", "table", "convert_summary", "snapshot", "location", "output_location", "workgroup", "sql",
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
        convert_summary: dict[str, Any] | None = None,
        mode: str = "add_partition",
        sql: str | None = None,
        workgroup: str = "primary",
        poll_interval: int = 2,
        max_polling_attempts: int = 300,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise LakeConfigError(f"{self.task_id}: mode must be one of {MODES}, got {mode!r}")
        self.database = database
        self.table = table
        self.output_location = output_location
        self.snapshot = snapshot
        self.location = location
        self.convert_summary = convert_summary
        self.mode = mode
        self.sql = sql
        self.workgroup = workgroup
        self.poll_interval = poll_interval
        self.max_polling_attempts = max_polling_attempts

    def sql_template_dirs(self) -> list[str]:
        """The lake's SQL folders for this task: ``$DDB_LAKE_SQL_DIR``, then beside its DAG's folder."""
        return sql_template_dirs(self.dag.folder if self.has_dag() else None, os.environ.get(SQL_DIR_ENV))

    def get_template_env(self, dag: Any = None) -> Any:
        """The DAG's Jinja environment plus the ``athena_*`` quoting filters and the lake's SQL folders."""
        return with_sql_templates(super().get_template_env(dag=dag), self.sql_template_dirs())

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render the fields, then the mode's template into ``sql`` when none was given."""
        jinja_env = with_sql_templates(jinja_env, self.sql_template_dirs()) if jinja_env else self.get_template_env()
        super().render_template_fields(context, jinja_env)
        self.take_summary()
        if self.sql is None:
            self.sql = self.build_sql(jinja_env)

    def take_summary(self) -> None:
        """``snapshot`` and ``location`` from ``convert_summary`` when one is given (the folder convert wrote)."""
        if self.convert_summary is not None:
            self.snapshot, self.location = snapshot_location(require_summary(self.convert_summary, self.task_id))

    def build_sql(self, jinja_env: Any = None) -> str:
        """The mode's statement: its ``include/sql/`` template rendered with this task's current field values."""
        if isinstance(self.convert_summary, dict):  # not yet an XComArg's value: a DAG being parsed
            self.take_summary()
        if self.mode == "add_partition" and not (self.snapshot and self.location):
            raise LakeConfigError(f"{self.task_id}: mode add_partition needs snapshot and location")
        env = jinja_env or self.get_template_env()
        return render_sql_template(env, MODE_TEMPLATES[self.mode], self.sql_template_dirs(), task=self)

    def execute(self, context: Context) -> dict[str, Any]:
        sql = (self.sql or self.build_sql()).strip()
        token = athena_sql.client_request_token(
            self.dag_id, self.task_id, self.database, self.table, self.snapshot, sql, attempt=run_attempt(context)
        )
        query_id = self.hook.run_query(
            sql,
            query_context={"Database": self.database},
            result_configuration={"OutputLocation": self.output_location},
            client_request_token=token,
            workgroup=self.workgroup,
        )
        state = self.hook.poll_query_status(query_id, self.max_polling_attempts, self.poll_interval)
        if state != SUCCEEDED:
            status = self.hook.get_query_info(query_id)["QueryExecution"]["Status"]
            raise query_failure(query_id, f"{self.database}.{self.table}", state, status, sql)
        return {"query_execution_id": query_id, "state": state, "sql": sql, "client_request_token": token}
