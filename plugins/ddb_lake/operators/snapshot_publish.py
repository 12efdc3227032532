"""Publish a validated snapshot (one UpdateTable switches the current table) and delete snapshots past retention."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ddb_lake.compat import Context, data_interval_of
from ddb_lake.core.convert.storage import split_url
from ddb_lake.core.errors import TransientError
from ddb_lake.core.lake.catalog_tables import LAKE_DATABASE_DESCRIPTION, current_table_input
from ddb_lake.core.lake.contract_store import contract_source, contract_url, stored_contract
from ddb_lake.core.lake.glue_table import same_location
from ddb_lake.core.lake.layout import TableLayout
from ddb_lake.core.lake.publish import (
    KEPT_NEWER,
    PUBLISH_ATTEMPTS,
    PUBLISHED,
    PUBLISHED_MARKER,
    SUPERSEDED_MARKER,
    UNCHANGED,
    CurrentSnapshot,
    publish_action,
)
from ddb_lake.core.lake.retention import (
    FolderPlan,
    FolderTimes,
    SnapshotFolder,
    check_grace,
    converted_folders,
    folder_name,
    folder_stamp,
    plan_folder_retention,
)
from ddb_lake.core.lake.snapshot_manifest import check_file_sizes, manifest_files, manifest_key
from ddb_lake.core.schema.contract import SchemaContract, next_contract
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks.lake_catalog import TableChanged
from ddb_lake.hooks.lake_storage import read_text
from ddb_lake.operators.glue_catalog import LakeSnapshotOperator


class LakeFilesOperator(LakeSnapshotOperator):
    """Base of the operators that also read or delete a table's snapshot files: those go through ``s3``."""

    def current_snapshot(self) -> CurrentSnapshot:
        """What the current Glue table reads now."""
        return CurrentSnapshot.of_table(self.hook.get_table(self.database, self.current_table_name()))

    def object_size(self, bucket: str, key: str) -> int | None:
        """The object's size in bytes, None when it does not exist."""
        head = self.s3.head_object(key, bucket)
        return None if head is None else head["ContentLength"]

    def read_text(self, bucket: str, key: str) -> str | None:
        """A small object's text (a manifest, a contract) in one GET; None when it does not exist."""
        return read_text(self.s3.conn, bucket, key)

    def stored_contract(self, table: dict[str, Any] | None) -> SchemaContract | None:
        """The schema contract of the current table ``table`` (a GetTable answer); None before the first publish."""
        source = contract_source(table)
        if source is None:
            return None
        bucket, key = source.bucket_key
        text = self.read_text(bucket, key)
        return stored_contract(source, text, table=self.table_name,
                               glue_table=f"{self.database}.{self.current_table_name()}")


class SnapshotPublishOperator(LakeFilesOperator):
    """Switch the current Glue table to a snapshot in one catalog call, after checking the snapshot is complete.

    Before the switch: ``_manifest.json`` must exist under the snapshot prefix, list the same files as the convert
    summary, and every listed file must exist with the listed size. The current table never moves to an older
    snapshot unless ``allow_rollback``: a backfill of an older interval succeeds and keeps the newer one current
    (``action: kept_newer``); publishing the snapshot it already points at changes nothing. The decision and the
    switch use one read: UpdateTable carries that read's VersionId, and when another publish got in between, the
    table is read and the decision made again (compare-and-swap), so the newest interval wins under any overlap.
    The same switch publishes the schema contract: the contract the read table names, advanced by this snapshot's
    schema (``core.schema.contract.next_contract``), written to the folder's ``_contract.json`` and named by the
    table parameter ``ddb_lake.contract``; a snapshot that moved a column to another attribute is refused.
    """

    template_fields: Sequence[str] = ("convert_summary", "database", "table_name", "bucket", "current_table",
                                      "validation")

    def __init__(
        self,
        *,
        convert_summary: dict[str, Any] | str,
        database: str,
        table_name: str,
        bucket: str | None = None,
        current_table: str | None = None,
        allow_rollback: bool = False,
        validation: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(convert_summary=convert_summary, database=database, table_name=table_name, bucket=bucket,
                         current_table=current_table, **kwargs)
        self.allow_rollback = allow_rollback
        self.validation = validation  # the validate task's result: its headline goes on the asset event

    def execute(self, context: Context) -> dict[str, Any]:
        summary, stamp, location = self.converted_snapshot()
        self.check_snapshot_complete(location, summary)
        table = self.current_table_name()
        wrote_marker = False
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            read = self.hook.get_table(self.database, table)
            current = CurrentSnapshot.of_table(read)
            result = {"database": self.database, "table": table, "snapshot": stamp, "location": location,
                      "previous_location": current.location, "previous_snapshot": current.snapshot,
                      "attempts": attempt}
            action = publish_action(stamp, location, current, self.allow_rollback)
            if action != PUBLISHED:
                self.not_published(action, location, current, retract=wrote_marker and action == KEPT_NEWER)
                return self.with_event(context, summary, {**result, "action": action,
                                                          "published_at": current.published_at})
            published_at = datetime.now(UTC).isoformat()
            schema = LakeSchema.from_json(summary["schema"])
            contract = next_contract(self.stored_contract(read), schema, table=self.table_name, snapshot=stamp)
            wanted = current_table_input(table, self.table_name, schema, location, snapshot=stamp,
                                         published_at=published_at, contract=self.write_contract(location, contract))
            self.hook.ensure_database(self.database, LAKE_DATABASE_DESCRIPTION)
            self.mark(location, PUBLISHED_MARKER, stamp, published_at)
            wrote_marker = True
            try:
                self.hook.switch_table(self.database, wanted, read)
            except TableChanged as changed:
                self.log.warning("%s; reading it again (attempt %d of %d)", changed, attempt, PUBLISH_ATTEMPTS)
                continue
            if current.location:
                self.mark(current.location, SUPERSEDED_MARKER, current.snapshot, _now(), by=stamp)
            changes = [change.to_json() for change in contract.history if change.snapshot == stamp]
            return self.with_event(context, summary, {**result, "action": action, "published_at": published_at,
                                                      "contract_changes": changes})
        raise TransientError(
            f"publishing {location} to {self.database}.{table}: another writer changed the table {PUBLISH_ATTEMPTS} "
            f"times between read and update; the task retry reads it again"
        )

    def with_event(self, context: Context, summary: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        """Put what this run published on the lake asset's event (``outlet_events[asset].extra``); return ``result``."""
        events = context.get("outlet_events") if hasattr(context, "get") else None
        if events is not None:
            start, end = data_interval_of(context)
            extra = {"table": f"{self.database}.{result['table']}", "snapshot": result["snapshot"],
                     "location": result["location"], "rows": summary.get("items"), "action": result["action"],
                     "interval": [t.isoformat() if t else None for t in (start, end)],
                     "validation": (self.validation or {}).get("summary")}
            for outlet in self.outlets or ():
                events[outlet].extra = extra
        return result

    def not_published(self, action: str, location: str, current: CurrentSnapshot, *, retract: bool) -> None:
        """Log why nothing was switched; ``retract``: our ``_published.json`` was written for a switch that lost."""
        table = f"{self.database}.{self.current_table_name()}"
        if action == UNCHANGED:
            self.log.info("%s already reads %s; nothing to publish", table, location)
            return
        self.log.warning(
            "%s reads snapshot %s, newer than %s (a backfill of an older interval): keeping the newer one. "
            "The older snapshot stays queryable in its partition; set allow_rollback=True to publish it.",
            table, current.snapshot, location,
        )
        if retract:  # it was never current: retention may count its grace from now
            self.mark(location, SUPERSEDED_MARKER, None, _now(), by=current.snapshot)

    def write_contract(self, location: str, contract: SchemaContract) -> str:
        """Write ``_contract.json`` into the snapshot folder at ``location``; return its URL for the table parameter."""
        url = contract_url(location)
        bucket, key = split_url(url, "s3")
        self.s3.load_string(json.dumps(contract.to_json(), sort_keys=True), key, bucket_name=bucket, replace=True)
        return url

    def check_snapshot_complete(self, location: str, summary: dict[str, Any]) -> None:
        """Raise unless the snapshot's manifest and every file it lists are in S3 as the convert task reported."""
        bucket, key = manifest_key(location)
        manifest = self.read_text(bucket, key)
        files = manifest_files(location, manifest, summary)
        sizes = {listed.path: self.object_size(listed.bucket, listed.key) for listed in files}
        check_file_sizes(location, files, sizes)


class SnapshotRetentionOperator(LakeFilesOperator):
    """Delete a table's converted folders (attempt folders, and fixed ``snapshot=`` folders of before) past the grace.

    Deleted: folders that were published and have not been current for ``grace_period`` (more than zero), and
    folders never published whose data is older than it (see ``ddb_lake.core.lake.retention``). Never deleted: the
    folder the current table reads (read again right before deleting), the folders the partitions of the newest
    ``keep_last`` snapshots read, anything written or superseded within the grace period. A folder a partition reads
    goes with its partition: partitions first, then files, so the catalog never points at deleted data. Safe to
    rerun. The result names each folder by its stamp (``<stamp>/attempt=<id>`` for an attempt folder).
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
        super().__init__(database=database, table_name=table_name, bucket=bucket, current_table=current_table,
                         snapshots_table=snapshots_table, **kwargs)
        self.prefix = prefix
        grace = grace_period if isinstance(grace_period, timedelta) else timedelta(seconds=grace_period)
        self.grace_period = check_grace(grace)
        self.keep_last = keep_last

    def execute(self, context: Context) -> dict[str, Any]:
        root = TableLayout(self.bucket, self.prefix, self.table_name).snapshots_prefix()
        folders = self.listed_folders(root)
        current = self.current_snapshot()
        plan = plan_folder_retention(
            folders, current_location=current.location, partitions=self.partition_locations(),
            published_at=current.published_time(), now=datetime.now(UTC), grace=self.grace_period,
            keep_last=self.keep_last,
        )
        reading = next((f for f in folders if current.location and same_location(f.url, current.location)), None)
        if current.location and reading is None:
            self.log.warning("%s points outside s3://%s/%s/; deleting nothing", current.location, self.bucket, root)
        names = {f.url: folder_name(f.url) for f in folders}
        for kept, reason in sorted(plan.keep.items()):
            self.log.info("keep %s: %s", names[kept], reason)
        deleted = self.delete_folders(plan) if plan.delete else {}
        return {"current": reading.stamp if reading else None, "kept": {names[u]: r for u, r in plan.keep.items()},
                "deleted": {names[u]: r for u, r in deleted.items()}, "dropped_partitions": list(plan.drop_partitions)}

    def listed_folders(self, root: str) -> list[SnapshotFolder]:
        """Every converted folder under ``root`` (one listing), with its stamp and times."""
        listed = self.s3.iter_file_metadata(root + "/", bucket_name=self.bucket)
        grouped, skipped = converted_folders(root, ((item["Key"], item["LastModified"]) for item in listed))
        for key in skipped[:10]:
            self.log.info("skipping %s: in no snapshot=<stamp>/ or attempt folder", key)
        return [SnapshotFolder(f"s3://{self.bucket}/{key}", folder_stamp(key), FolderTimes.of_objects(objects))
                for key, objects in sorted(grouped.items())]

    def partition_locations(self) -> dict[str, str]:
        """``{stamp: location}`` of the history table's partitions (empty when the table does not exist)."""
        found = self.hook.partition_locations(self.database, self.snapshots_table_name())
        return {values[0]: location for values, location in found.items() if len(values) == 1}

    def delete_folders(self, plan: FolderPlan) -> dict[str, str]:
        """Partitions first, then files; a folder a pointer moved to or from meanwhile is kept for the next run.

        Refused (transient) when the current table was switched to a doomed folder meanwhile.
        """
        doomed = dict(plan.delete)
        reading = self.current_snapshot().location
        switched = next((url for url in doomed if reading and same_location(url, reading)), None)
        if switched is not None:
            raise TransientError(f"refusing to delete {switched}: the current table was switched to it meanwhile")
        partitions = self.partition_locations()
        for url in list(doomed):
            stamp = folder_stamp(url)
            was_read = stamp in plan.drop_partitions
            now_read = stamp in partitions and same_location(partitions[stamp], url)
            if was_read != now_read:
                self.log.warning("keeping %s: partition %s moved meanwhile", url, stamp)
                del doomed[url]
        drop = sorted(folder_stamp(url) for url in doomed if folder_stamp(url) in plan.drop_partitions)
        snapshots_table = self.snapshots_table_name()
        if drop:
            self.hook.delete_partitions(self.database, snapshots_table, [[stamp] for stamp in drop])
        for url in sorted(doomed):
            bucket, folder = split_url(url, "s3")
            keys = self.s3.list_keys(bucket_name=bucket, prefix=folder)
            if keys:
                self.s3.delete_objects(bucket, keys)
            self.log.info("deleted %s (%d objects): %s", url, len(keys), doomed[url])
        return doomed


def _now() -> str:
    return datetime.now(UTC).isoformat()
