"""Register converted snapshots in the Glue Data Catalog, and run a Glue crawler for those who want one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from ddb_lake.compat import AirflowException, Context
from ddb_lake.core.lake.glue_table import (
    glue_columns,
    injected_projection_parameters,
    parent_location,
    partition_input,
    snapshot_location,
    table_input,
)
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks.lake_catalog import LakeCatalogHook, check_crawl

LAKE_DATABASE_DESCRIPTION = "ddb-lake: DynamoDB tables mirrored as Parquet"


class GlueSnapshotCatalogOperator(AwsBaseOperator[LakeCatalogHook]):
    """Create or evolve the ``<table>_snapshots`` Glue table and add the new snapshot's partition (idempotent).

    :param convert_summary: the convert task's return value (``schema``, ``snapshot``, ``snapshot_prefix``)
    :param bucket: the lake bucket, needed when ``snapshot_prefix`` is a key rather than an ``s3://`` URL
    :param partition_projection: declare an injected partition projection instead of adding partitions
    """

    template_fields: Sequence[str] = ("convert_summary", "database", "table_name", "bucket", "snapshots_table")
    aws_hook_class = LakeCatalogHook

    def __init__(
        self,
        *,
        convert_summary: dict[str, Any] | str,
        database: str,
        table_name: str,
        bucket: str | None = None,
        snapshots_table: str | None = None,
        partition_projection: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.convert_summary = convert_summary
        self.database = database
        self.table_name = table_name
        self.bucket = bucket
        self.snapshots_table = snapshots_table
        self.partition_projection = partition_projection

    def execute(self, context: Context) -> dict[str, Any]:
        summary = require_summary(self.convert_summary, self.task_id)
        stamp, location = snapshot_location(summary, self.bucket)
        table = snapshots_table_name(self.table_name, self.snapshots_table)
        columns = glue_columns(LakeSchema.from_json(summary["schema"]))
        table_location = parent_location(location)
        parameters = injected_projection_parameters(table_location) if self.partition_projection else {}
        description = f"Every published snapshot of DynamoDB table {self.table_name}, one partition per snapshot"
        wanted = table_input(table, columns, table_location, partitioned=True, description=description,
                             parameters=parameters)
        self.hook.ensure_database(self.database, LAKE_DATABASE_DESCRIPTION)
        table_action, in_catalog = self.hook.upsert_table(self.database, wanted)
        outcome: dict[str, list] = {"created": [], "existing": [], "moved": []}
        if not self.partition_projection:
            partition = partition_input(stamp, in_catalog["StorageDescriptor"]["Columns"], location)
            outcome = self.hook.add_partitions(self.database, table, [partition])
        self.log.info("Glue %s.%s %s; partition %s: %s", self.database, table, table_action, stamp, outcome)
        return {
            "database": self.database,
            "table": table,
            "table_action": table_action,
            "snapshot": stamp,
            "location": location,
            "partition_action": next((k for k, v in outcome.items() if v), "projected"),
            "columns": len(in_catalog["StorageDescriptor"]["Columns"]),
        }


def require_summary(summary: Any, task_id: str) -> dict[str, Any]:
    if not isinstance(summary, dict):
        raise AirflowException(
            f"{task_id}: convert_summary must be the convert task's dict (pass the XComArg, or render templates "
            f"as native objects); got {type(summary).__name__} {str(summary)[:80]!r}"
        )
    return summary


def snapshots_table_name(table_name: str, snapshots_table: str | None = None) -> str:
    """The Glue table with one partition per snapshot: ``snapshots_table``, default ``<table_name>_snapshots``."""
    return (snapshots_table or f"{table_name}_snapshots").lower()


class LakeGlueCrawlerOperator(AwsBaseOperator[LakeCatalogHook]):
    """Create or update a Glue crawler over S3 paths, start it, wait for it, and return its LastCrawl report.

    A crawl already running is waited for, then (``start_after_running``) a new crawl is started so that files
    written after that crawl began are crawled too. UpdateCrawler is only called for keys whose value differs.
    The deferred wait is the amazon provider's ``GlueCrawlerCompleteTrigger`` (its ``crawler_ready`` waiter), built
    with this operator's connection, region, ``verify`` and ``botocore_config``.
    """

    template_fields: Sequence[str] = ("crawler_name", "s3_paths", "database", "role", "table_prefix")
    aws_hook_class = LakeCatalogHook

    def __init__(
        self,
        *,
        crawler_name: str,
        s3_paths: list[str],
        database: str,
        role: str,
        table_prefix: str = "",
        crawler_config: dict[str, Any] | None = None,
        start_after_running: bool = True,
        deferrable: bool = False,
        poll_interval: float = 5.0,
        timeout: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.crawler_name = crawler_name
        self.s3_paths = s3_paths
        self.database = database
        self.role = role
        self.table_prefix = table_prefix
        self.crawler_config = crawler_config or {}
        self.start_after_running = start_after_running
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout

    def crawler_request(self) -> dict[str, Any]:
        request = {
            "Name": self.crawler_name,
            "Role": self.role,
            "DatabaseName": self.database,
            "Targets": {"S3Targets": [{"Path": path} for path in self.s3_paths]},
            **self.crawler_config,
        }
        if self.table_prefix:
            request["TablePrefix"] = self.table_prefix
        return request

    def execute(self, context: Context) -> dict[str, Any] | None:
        action = self.hook.create_or_update_crawler(self.crawler_request())
        self.log.info("Glue crawler %s: %s", self.crawler_name, action)
        return self._start(context)

    def _start(self, context: Context) -> dict[str, Any] | None:
        if self.hook.start_crawler(self.crawler_name):
            return self._wait(context, "execute_complete")
        if not self.start_after_running:
            return self._wait(context, "execute_complete")
        self.log.info("Waiting for the running crawl of %s, then starting a new one", self.crawler_name)
        if self.deferrable:
            return self._wait(context, "resume_after_running")
        self.hook.wait_for_crawler(self.crawler_name, poll_interval=self.poll_interval, timeout=self.timeout)
        return self._start(context)

    def _wait(self, context: Context, method_name: str) -> dict[str, Any] | None:
        if self.deferrable:
            from airflow.providers.amazon.aws.triggers.glue_crawler import GlueCrawlerCompleteTrigger

            trigger = GlueCrawlerCompleteTrigger(
                self.crawler_name, aws_conn_id=self.aws_conn_id, waiter_delay=self.poll_interval,
                waiter_max_attempts=int(self.timeout / self.poll_interval) + 1, region_name=self.region_name,
                verify=self.verify, botocore_config=self.botocore_config,
            )
            self.defer(trigger=trigger, method_name=method_name)
        return self.hook.wait_for_crawler(self.crawler_name, poll_interval=self.poll_interval, timeout=self.timeout)

    def resume_after_running(self, context: Context, event: dict[str, Any]) -> dict[str, Any] | None:
        """The crawl that was running has ended (whatever its outcome): start ours."""
        self._report_of(event)
        return self._start(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        return check_crawl(self._report_of(event))

    def _report_of(self, event: dict[str, Any]) -> dict[str, Any]:
        """The crawler's LastCrawl report once the trigger fired; raise when the wait ended before it was READY.

        The ``crawler_ready`` waiter also ends with an error event when the crawler is READY after a FAILED or
        CANCELLED crawl: then the report is returned, for ``check_crawl`` (or the restart) to judge as before.
        """
        report = self.hook.crawl_report(self.crawler_name)
        if event.get("status") != "success" and report["state"] != "READY":
            raise AirflowException(f"Waiting for Glue crawler {self.crawler_name} failed: {event.get('message')}")
        return report
