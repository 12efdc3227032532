"""Register converted snapshots in the Glue Data Catalog, and run a Glue crawler for those who want one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from ddb_lake.compat import Context
from ddb_lake.core.errors import TransientError
from ddb_lake.core.lake.catalog_tables import (
    LAKE_DATABASE_DESCRIPTION,
    current_table_name,
    partition_action,
    snapshots_table_input,
    snapshots_table_name,
)
from ddb_lake.core.lake.convert_summary import require_summary
from ddb_lake.core.lake.crawler import crawler_request
from ddb_lake.core.lake.glue_table import (
    folder_url,
    glue_columns,
    parent_location,
    partition_input,
    same_location,
    snapshot_location,
)
from ddb_lake.core.lake.layout import SUPERSEDED_MARKER
from ddb_lake.core.lake.publish import marker_body, marker_key
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks._aws_connection import same_connection
from ddb_lake.hooks.lake_catalog import LakeCatalogHook, check_crawl
from ddb_lake.links import GlueTableLink
from ddb_lake.operators.base import ClassifiedErrors

# Imported from here by other modules; the rules live in ddb_lake.core.lake.
__all__ = [
    "LAKE_DATABASE_DESCRIPTION", "GlueSnapshotCatalogOperator", "LakeGlueCrawlerOperator", "LakeSnapshotOperator",
    "require_summary", "snapshots_table_name",
]


class LakeSnapshotOperator(ClassifiedErrors, AwsBaseOperator[LakeCatalogHook]):
    """Base of the operators on one table's snapshots: the table's names, its Glue tables through ``hook``.

    :param convert_summary: the convert task's return value (``schema``, ``files``, ``snapshot``, ``snapshot_prefix``)
    :param bucket: the lake bucket, needed when ``snapshot_prefix`` is a key rather than an ``s3://`` URL
    """

    aws_hook_class = LakeCatalogHook

    def __init__(
        self,
        *,
        database: str,
        table_name: str,
        convert_summary: dict[str, Any] | str | None = None,
        bucket: str | None = None,
        current_table: str | None = None,
        snapshots_table: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.database = database
        self.table_name = table_name
        self.convert_summary = convert_summary
        self.bucket = bucket
        self.current_table = current_table
        self.snapshots_table = snapshots_table

    def converted_snapshot(self) -> tuple[dict[str, Any], str, str]:
        """(the convert summary, its snapshot stamp, its ``s3://`` folder)."""
        summary = require_summary(self.convert_summary, self.task_id)
        return summary, *snapshot_location(summary, self.bucket)

    def current_table_name(self) -> str:
        return current_table_name(self.table_name, self.current_table)

    @cached_property
    def s3(self) -> Any:
        """The lake's files (markers, manifests, deletes) through the amazon provider's S3Hook, same connection."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return same_connection(S3Hook(**self._hook_parameters), self.hook)

    def mark(self, location: str, marker: str, snapshot: str | None, at: str, *, by: str | None = None) -> None:
        """Write a publish marker (see ``ddb_lake.core.lake.publish``) into the folder at ``location``."""
        bucket, key = marker_key(location, marker)
        body = marker_body(snapshot, f"{self.database}.{self.current_table_name()}", at, by=by)
        self.s3.load_string(body, key, bucket_name=bucket, replace=True)

    def snapshots_table_name(self) -> str:
        return snapshots_table_name(self.table_name, self.snapshots_table)


class GlueSnapshotCatalogOperator(LakeSnapshotOperator):
    """Create or evolve the ``<table>_snapshots`` Glue table and add the new snapshot's partition (idempotent).

    The table's column types are the widest any snapshot needed (the schema contract's); the partition's columns are
    its own files' types and member order (the convert summary's schema), so Athena reads each partition's files with
    their own types and CASTs them to the table's (docs/schema-contract.md). When the snapshot's partition read another
    folder of the table (an earlier attempt of the interval), that one gets ``_superseded.json`` once the partition
    moved: retention counts its grace from then, as readers of the partition may still hold its files.

    :param partition_projection: declare an injected partition projection instead of adding partitions
    """

    operator_extra_links = (GlueTableLink(),)
    template_fields: Sequence[str] = ("convert_summary", "database", "table_name", "bucket", "snapshots_table")

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
        super().__init__(convert_summary=convert_summary, database=database, table_name=table_name, bucket=bucket,
                         snapshots_table=snapshots_table, **kwargs)
        self.partition_projection = partition_projection

    def execute(self, context: Context) -> dict[str, Any]:
        summary, stamp, location = self.converted_snapshot()
        table, root = self.snapshots_table_name(), parent_location(location)
        schema = LakeSchema.from_json(summary["schema"])
        wanted = snapshots_table_input(table, self.table_name, schema, root,
                                       projection=self.partition_projection)
        self.hook.ensure_database(self.database, LAKE_DATABASE_DESCRIPTION)
        table_action, in_catalog = self.hook.upsert_table(self.database, wanted, schema)
        columns = in_catalog["StorageDescriptor"]["Columns"]
        outcome: dict[str, list] = {}
        if not self.partition_projection:
            before = self.hook.partition_location(self.database, table, [stamp])
            own = partition_input(stamp, glue_columns(schema), location)
            outcome = self.hook.add_partitions(self.database, table, [own])
            if before and folder_url(before).startswith(root) and not same_location(before, location):
                self.mark(before, SUPERSEDED_MARKER, stamp, datetime.now(UTC).isoformat(), by=location)
        self.log.info("Glue %s.%s %s; partition %s: %s", self.database, table, table_action, stamp, outcome)
        return {
            "database": self.database,
            "table": table,
            "table_action": table_action,
            "snapshot": stamp,
            "location": location,
            "partition_action": partition_action(outcome),
            "columns": len(columns),
        }


class LakeGlueCrawlerOperator(ClassifiedErrors, AwsBaseOperator[LakeCatalogHook]):
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
        return crawler_request(self.crawler_name, self.role, self.database, self.s3_paths, self.table_prefix,
                               self.crawler_config)

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
            raise TransientError(f"Waiting for Glue crawler {self.crawler_name} failed: {event.get('message')}")
        return report
