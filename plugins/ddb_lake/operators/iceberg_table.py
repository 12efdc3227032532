"""The Iceberg table's tasks: where the chain stands (``state``), the merge of one export (``merge``), and the
validation of the table after it (``validate``). Rules live in ``ddb_lake.core.iceberg``; pyiceberg calls in
``ddb_lake.hooks.iceberg_merge`` and ``ddb_lake.hooks.iceberg_catalog``; snapshot expiry (``expire``) in
``ddb_lake.hooks.iceberg_maintenance``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from ddb_lake.compat import AirflowSkipException, Context, run_attempt
from ddb_lake.core.errors import ConfigError, NotFoundError, ValidationFailedError
from ddb_lake.core.export.folders import finished_export
from ddb_lake.core.export.rules import FULL_EXPORT
from ddb_lake.core.iceberg.arithmetic import KeyTotals, check_merge
from ddb_lake.core.iceberg.athena_merge import DEFAULT_ATHENA_MIN_ROWS, WORKER, choose_engine
from ddb_lake.core.iceberg.full_check import check_full_count, full_check_due
from ddb_lake.core.iceberg.schema_rules import key_columns_of
from ddb_lake.core.iceberg.watermark import BOOTSTRAP, KEY_CHECKSUM, ROWS, SKIP, plan_window, window_locations
from ddb_lake.core.lake.layout import TableLayout
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks import iceberg_merge as engine
from ddb_lake.hooks.dynamodb_export import DynamoDBExportHook
from ddb_lake.hooks.iceberg_catalog import IcebergCatalogHook
from ddb_lake.operators.base import ClassifiedErrors
from ddb_lake.operators.dynamodb_export import DynamoDBExportOperator


class IcebergChainStateOperator(ClassifiedErrors, AwsBaseOperator[IcebergCatalogHook]):
    """Read the table's watermark and decide this run's export: bootstrap, the window from the watermark, or skip.

    Returns (``multiple_outputs``) ``action``, ``export_type``, ``window_start``, ``export_time``, ``export_prefix``,
    ``changes_url``, ``snapshot``, ``previous_schema`` (the table's LakeSchema JSON or None), ``reason``,
    ``full_check`` (this window is checked against a full export at ``export_time``: every
    ``verify_full_every_runs`` merged windows, 0 never) and ``full_check_prefix`` (that export's ``S3Prefix``). A run
    with nothing to export (less than 15 minutes after the watermark) is skipped.
    """

    template_fields: Sequence[str] = ("interval_end",)
    ui_color = "#cfe8f3"
    aws_hook_class = IcebergCatalogHook

    def __init__(self, *, database: str, table_name: str, dynamodb_table: str, layout: TableLayout,
                 interval_end: Any, check_recovery_window: bool = True, verify_full_every_runs: int = 0,
                 **kwargs: Any) -> None:
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        self.database, self.table_name, self.dynamodb_table = database, table_name, dynamodb_table
        self.layout, self.interval_end, self.check_recovery_window = layout, interval_end, check_recovery_window
        self.verify_full_every_runs = verify_full_every_runs

    @cached_property
    def export_hook(self) -> DynamoDBExportHook:
        return DynamoDBExportHook(**self._hook_parameters)

    def execute(self, context: Context) -> dict[str, Any]:
        table = self.hook.load_table(self.database, self.table_name)
        state = engine.committed_state(table)
        earliest = None
        if self.check_recovery_window and state.watermark is not None:
            earliest = self.export_hook.recovery_window(self.dynamodb_table).earliest
        plan = plan_window(f"{self.database}.{self.table_name}", state, self.interval_end, earliest)
        if plan.action == SKIP:
            raise AirflowSkipException(plan.reason)
        (self.log.warning if plan.action == BOOTSTRAP and state.watermark else self.log.info)("%s", plan.reason)
        schema = engine.stored_schema(table)
        check = plan.action != BOOTSTRAP and full_check_due(state.windows, self.verify_full_every_runs)
        if check:
            self.log.info("table %s.%s: window %d since the bootstrap is checked against a full export at %s",
                          self.database, self.table_name, state.windows + 1, plan.export_time)
        assert plan.export_time is not None
        return {**plan.to_xcom(), **window_locations(self.layout, plan),
                "previous_schema": schema.to_json() if schema else None, "full_check": check,
                "full_check_prefix": self.layout.export_prefix(FULL_EXPORT, plan.export_time) if check else None}


class IcebergFullCheckExportOperator(DynamoDBExportOperator):
    """The full export at the window's end, taken only when the state task says this window is checked
    (``full_check``); the same export operator as the bootstrap's (deterministic ClientToken, retries reattach).
    Returns ``{"due": False}`` when not due, else the export's result with ``due: True``."""

    template_fields: Sequence[str] = (*DynamoDBExportOperator.template_fields, "due")

    def __init__(self, *, due: Any, **kwargs: Any) -> None:
        super().__init__(export_type=FULL_EXPORT, **kwargs)
        self.due = due

    def execute(self, context: Context) -> dict[str, Any]:
        if not self.due:
            self.log.info("no full-export check due for this window")
            return {"due": False}
        return super().execute(context)

    def export_result(self, request: dict[str, Any], description: dict[str, Any]) -> dict[str, Any]:
        return {**super().export_result(request, description), "due": True}


class IcebergMergeOperator(ClassifiedErrors, AwsBaseOperator[IcebergCatalogHook]):
    """Bootstrap the table from a converted full export, or merge a converted window into it, in one commit.

    :param export: the export task's result (its ``key_schema`` names the key; ``export_type``)
    :param conversion: the convert task's summary (Parquet ``files`` and their ``schema``)
    :param state: the state task's result (``window_start``, ``export_time``)
    :param location: the table's folder, used when the table is created by its first bootstrap
    :param merge_engine: ``worker``, ``athena`` or ``auto`` (Athena from ``athena_min_rows`` rows on); a bootstrap
        always runs in the worker. Athena needs ``athena_output_location`` (and ``athena_workgroup``)
    """

    template_fields: Sequence[str] = ("export", "conversion", "state")
    ui_color = "#9fd3c7"
    aws_hook_class = IcebergCatalogHook

    def __init__(self, *, database: str, table_name: str, location: str, export: Any, conversion: Any, state: Any,
                 merge_engine: str = WORKER, athena_min_rows: int = DEFAULT_ATHENA_MIN_ROWS,
                 athena_output_location: str = "", athena_workgroup: str = "primary", athena_poll_seconds: float = 2.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database, self.table_name, self.location = database, table_name, location
        self.export, self.conversion, self.state = export, conversion, state
        self.merge_engine, self.athena_min_rows = merge_engine, athena_min_rows
        self.athena_output_location, self.athena_workgroup = athena_output_location, athena_workgroup
        self.athena_poll_seconds = athena_poll_seconds

    def execute(self, context: Context) -> dict[str, Any]:
        export = finished_export(self.export, self.task_id)
        schema = LakeSchema.from_json(self.conversion["schema"])
        keys = key_columns_of(engine.data_schema(schema), [k["attribute"] for k in export.get("key_schema") or []])
        table = self.hook.load_table(self.database, self.table_name)
        if table is None:
            self.log.info("creating Iceberg table %s.%s at %s", self.database, self.table_name, self.location)
            catalog = self.hook.get_catalog()
            catalog.create_namespace_if_not_exists(self.database)
            table = engine.create_table(catalog, (self.database, self.table_name), engine.data_schema(schema),
                                        self.location, keys)
        files = [f["path"] for f in self.conversion["files"]]
        rows = engine.read_parquet_files(table.io, files, schema.to_arrow().remove_metadata())
        export_id = self.conversion["export_id"]
        if self.state["action"] == BOOTSTRAP:
            result = engine.bootstrap(table, rows, engine.data_schema(schema), export_id=export_id,
                                      export_time=self.state["export_time"], key_columns=keys)
        else:
            result = self.merge_window(context, table, rows, schema, export_id, keys)
        self.log.info("%s export %s into %s.%s (%s): snapshot %s, %s", result.action, export_id, self.database,
                      self.table_name, result.engine, result.snapshot_id, result.properties)
        return {**result.to_xcom(), "key_columns": keys}

    def merge_window(self, context: Context, table: Any, rows: Any, schema: LakeSchema, export_id: str,
                     keys: list[str]) -> engine.MergeResult:
        """The window merge by the engine the setting and the table's size choose."""
        window = {"export_id": export_id, "key_columns": keys, "window_start": self.state["window_start"],
                  "window_end": self.state["export_time"]}
        chosen = choose_engine(self.merge_engine, engine.committed_state(table).rows, self.athena_min_rows)
        if chosen == WORKER:
            return engine.merge_window(table, rows, schema, **window)
        from ddb_lake.hooks.iceberg_athena import AthenaMergeRunner
        from ddb_lake.hooks.iceberg_athena_merge import merge_window_athena

        if not self.athena_output_location:
            raise ConfigError(f"Iceberg table {self.database}.{self.table_name}: the athena merge engine needs "
                              "athena.output_location")
        runner = AthenaMergeRunner(aws_conn_id=self.aws_conn_id, region_name=self.region_name,
                                   output_location=self.athena_output_location, workgroup=self.athena_workgroup,
                                   attempt=run_attempt(context), table=f"{self.database}.{self.table_name}",
                                   poll_seconds=self.athena_poll_seconds)
        return merge_window_athena(table, rows, schema, **window, database=self.database,
                                   table_name=self.table_name, window_url=f"{self.state['changes_url']}/merge_window",
                                   runner=runner)


class IcebergValidationOperator(ClassifiedErrors, AwsBaseOperator[IcebergCatalogHook]):
    """Compare the table's row count and key checksum with the change arithmetic the merge committed.

    A mismatch rolls the table back to the snapshot before the merge (so the watermark does not move) and fails
    terminally. When ``full_check`` (the full-check export task's result) is due, the snapshot's row count must
    also equal that full export's item count (``core.iceberg.full_check``). Returns ``rows``, ``ok``,
    ``key_checksum``, ``report_text`` and ``full_check`` (the full export's item count, or None).
    """

    template_fields: Sequence[str] = ("merge", "full_check")
    ui_color = "#c3e6cb"
    aws_hook_class = IcebergCatalogHook

    def __init__(self, *, database: str, table_name: str, merge: Any, full_check: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database, self.table_name, self.merge, self.full_check = database, table_name, merge, full_check

    def execute(self, context: Context) -> dict[str, Any]:
        table = self.hook.load_table(self.database, self.table_name)
        if table is None:
            raise NotFoundError(f"Iceberg table {self.database}.{self.table_name} does not exist after its merge")
        merge, keys = self.merge, self.merge["key_columns"]
        expected = KeyTotals(int(merge["properties"][ROWS]), int(merge["properties"][KEY_CHECKSUM]))
        actual = engine.table_key_totals(table, keys, snapshot_id=merge["snapshot_id"])
        full = self.full_check if self.full_check and self.full_check.get("due") else None
        name = f"{self.database}.{self.table_name}"
        try:
            verdict = check_merge(name, merge["export_id"], expected, actual)
            if full is not None:
                verdict += "; " + check_full_count(name, merge["export_id"], full["export_arn"], actual.rows,
                                                   full_export_items(full, name))
        except ValidationFailedError:
            if merge["action"] != "already_applied":
                engine.rollback(table, merge["snapshot_id"], merge["parent_snapshot_id"])
            raise
        self.log.info("%s", verdict)
        return {"rows": actual.rows, "ok": True, "key_checksum": str(actual.checksum), "report_text": verdict,
                "snapshot_id": merge["snapshot_id"], "full_check": full["item_count"] if full else None}


def full_export_items(full: dict[str, Any], table: str) -> int:
    """The full-check export's item count; a completed export without one is a terminal error naming it."""
    if full.get("item_count") is None:
        raise ValidationFailedError(
            f"table {table}: the full-check export {full.get('export_arn')} reports no ItemCount, so the table "
            "cannot be compared with it. Set iceberg.verify_full_every_runs: 0 to switch the check off")
    return int(full["item_count"])


class IcebergExpireSnapshotsOperator(ClassifiedErrors, AwsBaseOperator[IcebergCatalogHook]):
    """Expire the table's snapshots superseded more than ``grace_period`` ago (keeping ``keep_last``) and delete the
    data files only they referenced; a query planned on a snapshot still finds its files for ``grace_period``."""

    ui_color = "#f3e6cf"
    aws_hook_class = IcebergCatalogHook

    def __init__(self, *, database: str, table_name: str, grace_period: timedelta, keep_last: int,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database, self.table_name = database, table_name
        self.grace_period, self.keep_last = grace_period, keep_last

    def execute(self, context: Context) -> dict[str, Any]:
        from ddb_lake.hooks.iceberg_maintenance import expire_snapshots

        table = self.hook.load_table(self.database, self.table_name)
        if table is None:
            raise NotFoundError(f"Iceberg table {self.database}.{self.table_name} does not exist")
        result = expire_snapshots(table, now=datetime.now(UTC), grace=self.grace_period,
                                  keep_last=self.keep_last)
        self.log.info("table %s.%s: expired %s, deleted %s data file(s), %s snapshot(s) kept", self.database,
                      self.table_name, result["expired"] or "nothing", result["deleted_files"],
                      result["kept_snapshots"])
        return result


class IcebergCompactionOperator(ClassifiedErrors, AwsBaseOperator[IcebergCatalogHook]):
    """Every ``every_runs`` merges, rewrite the table's small data files (below ``small_file_mb``) and those carrying
    position deletes into large ones, in one commit; older snapshots keep their files until expiry."""

    ui_color = "#f3e6cf"
    aws_hook_class = IcebergCatalogHook

    def __init__(self, *, database: str, table_name: str, every_runs: int, small_file_mb: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database, self.table_name = database, table_name
        self.every_runs, self.small_file_mb = every_runs, small_file_mb

    def execute(self, context: Context) -> dict[str, Any]:
        from ddb_lake.core.iceberg.maintenance_rules import compaction_due
        from ddb_lake.hooks.iceberg_maintenance import compact, merges_since_compaction

        table = self.hook.load_table(self.database, self.table_name)
        if table is None:
            raise NotFoundError(f"Iceberg table {self.database}.{self.table_name} does not exist")
        merges = merges_since_compaction(table)
        if not compaction_due(merges, self.every_runs):
            self.log.info("table %s.%s: %d merge(s) since the last compaction, compacting every %d: not yet",
                          self.database, self.table_name, merges, self.every_runs)
            return {"files_in": 0, "files_out": 0, "snapshot_id": None, "merges_since": merges}
        result = compact(table, small_bytes=self.small_file_mb << 20)
        self.log.info("table %s.%s: compaction %s", self.database, self.table_name, result)
        return {**result, "merges_since": merges}


class IcebergOrphanFilesOperator(ClassifiedErrors, AwsBaseOperator[IcebergCatalogHook]):
    """Delete files under the table's ``data/`` folder that no snapshot references and that are older than
    ``grace_period`` (left by a crashed merge or a failed commit)."""

    ui_color = "#f3e6cf"
    aws_hook_class = IcebergCatalogHook

    def __init__(self, *, database: str, table_name: str, grace_period: timedelta, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database, self.table_name, self.grace_period = database, table_name, grace_period

    def execute(self, context: Context) -> dict[str, Any]:
        from ddb_lake.hooks.iceberg_maintenance import remove_orphan_files

        table = self.hook.load_table(self.database, self.table_name)
        if table is None:
            raise NotFoundError(f"Iceberg table {self.database}.{self.table_name} does not exist")
        listed = self.hook.list_files(f"{table.location().rstrip('/')}/data/")
        result = remove_orphan_files(table, listed, now=datetime.now(UTC), grace=self.grace_period,
                                     delete=table.io.delete)
        return {"listed": result["listed"], "removed": len(result["removed"])}
