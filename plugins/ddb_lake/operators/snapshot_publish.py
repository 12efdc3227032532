"""Publish a validated snapshot (one UpdateTable switches the current table) and delete snapshots past retention."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from ddb_lake.compat import AirflowException, Context
from ddb_lake.core.convert.storage import split_url
from ddb_lake.core.lake.glue_table import (
    PUBLISHED_AT_PARAMETER,
    SNAPSHOT_PARAMETER,
    glue_columns,
    same_location,
    snapshot_location,
    stamp_of_location,
    table_input,
)
from ddb_lake.core.lake.layout import SNAPSHOT_PARTITION, TableLayout
from ddb_lake.core.lake.retention import plan_retention
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks.lake_catalog import LakeCatalogHook
from ddb_lake.operators.glue_catalog import LAKE_DATABASE_DESCRIPTION, require_summary, snapshots_table_name

MANIFEST_NAME = "_manifest.json"


class LakeSnapshotOperator(AwsBaseOperator[LakeCatalogHook]):
    """Base of the operators on a table's snapshots: their files through ``s3``, their Glue tables through ``hook``."""

    aws_hook_class = LakeCatalogHook
    database: str
    table_name: str
    current_table: str | None

    @cached_property
    def s3(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(**self._hook_parameters)

    def current_table_name(self) -> str:
        """The Glue table that reads the published snapshot: ``current_table``, default the table's own name."""
        return (self.current_table or self.table_name).lower()


class SnapshotPublishOperator(LakeSnapshotOperator):
    """Switch the current Glue table to a snapshot in one catalog call, after checking the snapshot is complete.

    Before the switch: ``_manifest.json`` must exist under the snapshot prefix, list the same files as the convert
    summary, and every listed file must exist with the listed size. The current table never moves to an older
    snapshot unless ``allow_rollback``: a backfill of an older interval succeeds and keeps the newer one current
    (``action: kept_newer``); publishing the snapshot it already points at changes nothing.
    """

    template_fields: Sequence[str] = ("convert_summary", "database", "table_name", "bucket", "current_table")

    def __init__(
        self,
        *,
        convert_summary: dict[str, Any] | str,
        database: str,
        table_name: str,
        bucket: str | None = None,
        current_table: str | None = None,
        allow_rollback: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.convert_summary = convert_summary
        self.database = database
        self.table_name = table_name
        self.bucket = bucket
        self.current_table = current_table
        self.allow_rollback = allow_rollback

    def execute(self, context: Context) -> dict[str, Any]:
        summary = require_summary(self.convert_summary, self.task_id)
        stamp, location = snapshot_location(summary, self.bucket)
        table = self.current_table_name()
        self.check_snapshot_complete(location, summary)
        existing = self.hook.get_table(self.database, table)
        previous = existing["StorageDescriptor"]["Location"] if existing else None
        result = {"database": self.database, "table": table, "snapshot": stamp, "location": location,
                  "previous_location": previous, "previous_snapshot": stamp_of_location(previous or "")}
        if previous and same_location(previous, location):
            self.log.info("%s.%s already reads %s; nothing to publish", self.database, table, location)
            return {**result, "action": "unchanged", "published_at": existing["Parameters"].get(PUBLISHED_AT_PARAMETER)}
        if self.is_rollback(stamp, result["previous_snapshot"]):
            self.log.warning(
                "%s.%s reads snapshot %s, newer than %s (a backfill of an older interval): keeping the newer one. "
                "The older snapshot stays queryable in its partition; set allow_rollback=True to publish it.",
                self.database, table, result["previous_snapshot"], stamp,
            )
            kept_since = existing["Parameters"].get(PUBLISHED_AT_PARAMETER)
            return {**result, "action": "kept_newer", "published_at": kept_since}
        published_at = datetime.now(timezone.utc).isoformat()
        wanted = table_input(
            table, glue_columns(LakeSchema.from_json(summary["schema"])), location, partitioned=False,
            description=f"Current snapshot of DynamoDB table {self.table_name} (switched by ddb-lake on publish)",
            parameters={SNAPSHOT_PARAMETER: stamp, PUBLISHED_AT_PARAMETER: published_at},
        )
        self.hook.ensure_database(self.database, LAKE_DATABASE_DESCRIPTION)
        self.hook.switch_table(self.database, wanted)
        return {**result, "action": "published", "published_at": published_at}

    def is_rollback(self, stamp: str, previous_stamp: str | None) -> bool:
        """True when publishing would move the current table back to an older snapshot without ``allow_rollback``."""
        return bool(previous_stamp) and stamp < str(previous_stamp) and not self.allow_rollback

    def check_snapshot_complete(self, location: str, summary: dict[str, Any]) -> None:
        """Raise unless the snapshot's manifest and every file it lists are in S3 as the convert task reported."""
        bucket, prefix = split_url(location, "s3")
        manifest_key = prefix + MANIFEST_NAME
        if self.s3.head_object(manifest_key, bucket) is None:
            raise AirflowException(f"snapshot {location} has no {MANIFEST_NAME}: the convert task did not finish it")
        manifest = json.loads(self.s3.read_key(manifest_key, bucket))
        listed = [f["path"] for f in manifest.get("files", [])]
        if summary.get("files") is not None and sorted(listed) != sorted(f["path"] for f in summary["files"]):
            raise AirflowException(f"snapshot {location}: {MANIFEST_NAME} lists other files than the convert summary")
        for entry in manifest.get("files", []):
            file_bucket, key = self.file_key(bucket, prefix, entry["path"])
            head = self.s3.head_object(key, file_bucket)
            if head is None or head["ContentLength"] != entry["bytes"]:
                found = "missing" if head is None else f"{head['ContentLength']} bytes"
                raise AirflowException(
                    f"snapshot {location}: file {entry['path']} is {found}, the manifest says {entry['bytes']} bytes"
                )

    @staticmethod
    def file_key(bucket: str, prefix: str, path: str) -> tuple[str, str]:
        """A manifest file path (an ``s3://`` URL, or relative to the snapshot prefix) as (bucket, key)."""
        return split_url(path, "s3") if path.startswith("s3://") else (bucket, prefix + path.lstrip("/"))


class SnapshotRetentionOperator(LakeSnapshotOperator):
    """Delete snapshot folders (and their ``<table>_snapshots`` partitions) past the grace period.

    Never deleted: the snapshot the current table points at (read again right before deleting), snapshots newer
    than it, the newest ``keep_last``, and older ones until ``grace_period`` has passed since the current one was
    published. Partitions go first, then files, so the catalog never points at deleted data. Safe to rerun.
    """

    template_fields: Sequence[str] = ("database", "table_name", "bucket", "prefix", "current_table", "snapshots_table")

    def __init__(
        self,
        *,
        database: str,
        table_name: str,
        bucket: str,
        prefix: str = "",
        grace_period: timedelta | float = timedelta(hours=24),
        keep_last: int = 2,
        current_table: str | None = None,
        snapshots_table: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.database = database
        self.table_name = table_name
        self.bucket = bucket
        self.prefix = prefix
        self.grace_period = grace_period if isinstance(grace_period, timedelta) else timedelta(seconds=grace_period)
        self.keep_last = keep_last
        self.current_table = current_table
        self.snapshots_table = snapshots_table

    def execute(self, context: Context) -> dict[str, Any]:
        layout = TableLayout(self.bucket, self.prefix, self.table_name)
        folders = self.snapshot_folders(layout)
        current_location, published_at = self.current_snapshot()
        current = stamp_of_location(current_location or "")
        ours = current in folders and same_location(current_location or "", layout.url(folders[current]))
        if current_location and not ours:
            self.log.warning("%s points outside %s; deleting nothing", current_location, layout.snapshots_prefix())
            current = None
        plan = plan_retention(folders, current=current, published_at=published_at,
                              now=datetime.now(timezone.utc), grace=self.grace_period, keep_last=self.keep_last)
        for stamp, reason in sorted(plan.keep.items()):
            self.log.info("keep %s: %s", stamp, reason)
        if plan.delete:
            self.delete_snapshots(layout, {stamp: folders[stamp] for stamp in plan.delete})
        return {"current": current, "kept": plan.keep, "deleted": plan.delete}

    def snapshot_folders(self, layout: TableLayout) -> dict[str, str]:
        """``{stamp: key prefix ending in /}`` of every ``snapshot=<stamp>/`` folder of the table."""
        root = layout.snapshots_prefix() + "/"
        folders = {}
        for folder in self.s3.list_prefixes(bucket_name=self.bucket, prefix=root, delimiter="/"):
            stamp = stamp_of_location(folder)
            if stamp is None:
                self.log.info("skipping %s: not a %s= folder", folder, SNAPSHOT_PARTITION)
                continue
            folders[stamp] = folder
        return folders

    def current_snapshot(self) -> tuple[str | None, datetime | None]:
        table = self.hook.get_table(self.database, self.current_table_name())
        if table is None:
            return None, None
        published = table.get("Parameters", {}).get(PUBLISHED_AT_PARAMETER)
        return table["StorageDescriptor"]["Location"], datetime.fromisoformat(published) if published else None

    def delete_snapshots(self, layout: TableLayout, doomed: dict[str, str]) -> None:
        current_location, _ = self.current_snapshot()
        for folder in doomed.values():
            if current_location and same_location(current_location, layout.url(folder)):
                raise AirflowException(f"refusing to delete {folder}: the current table was switched to it meanwhile")
        snapshots_table = snapshots_table_name(self.table_name, self.snapshots_table)
        if self.hook.get_table(self.database, snapshots_table) is not None:
            self.hook.delete_partitions(self.database, snapshots_table, [[stamp] for stamp in sorted(doomed)])
        for stamp, folder in sorted(doomed.items()):
            keys = self.s3.list_keys(bucket_name=self.bucket, prefix=folder)
            if keys:
                self.s3.delete_objects(self.bucket, keys)
            self.log.info("deleted snapshot %s (%d objects under s3://%s/%s)", stamp, len(keys), self.bucket, folder)
