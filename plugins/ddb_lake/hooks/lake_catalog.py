"""Glue Data Catalog calls of the lake: database, tables, snapshot partitions, the current table's switch, crawlers."""

from __future__ import annotations

import time
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from ddb_lake.core.errors import NotFoundError, TransientError, classify_reason
from ddb_lake.core.lake.catalog_tables import catalog_holds, evolved_table_input
from ddb_lake.core.lake.crawler import GlueCrawlFailed, check_crawl, crawler_changes, last_crawl_report
from ddb_lake.core.lake.glue_table import same_location
from ddb_lake.core.schema.lake_schema import LakeSchema

__all__ = ["GlueCrawlFailed", "LakeCatalogHook", "TableChanged", "check_crawl", "crawler_changes", "last_crawl_report"]

_BATCH_PARTITIONS = 100  # BatchCreatePartition takes at most 100 partitions
_BATCH_DELETE = 25  # BatchDeletePartition takes at most 25
_UPSERT_ATTEMPTS = 5  # reads of a table that overlapping runs create or update at the same time


class TableChanged(TransientError):
    """The table was created or updated by another writer between the read a decision was made on and the write."""


class LakeCatalogHook(AwsBaseHook):
    """Client-type Glue hook: idempotent create-or-update of the lake's catalog objects."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "glue"
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------------------------------------ databases
    def ensure_database(self, database: str, description: str = "") -> bool:
        """Create the database unless it exists; True when it was created."""
        client = self.conn
        try:
            client.get_database(Name=database)
            return False
        except client.exceptions.EntityNotFoundException:
            pass
        try:
            client.create_database(DatabaseInput={"Name": database, "Description": description})
        except client.exceptions.AlreadyExistsException:
            return False
        self.log.info("Created Glue database %s", database)
        return True

    # ------------------------------------------------------------------------------------------------ tables
    def get_table(self, database: str, table: str) -> dict[str, Any] | None:
        client = self.conn
        try:
            return client.get_table(DatabaseName=database, Name=table)["Table"]
        except client.exceptions.EntityNotFoundException:
            return None

    def upsert_table(self, database: str, wanted: dict[str, Any],
                     schema: LakeSchema | None = None) -> tuple[str, dict[str, Any]]:
        """Create the table, or evolve its columns additively and update it when anything differs.

        ``wanted`` is a TableInput; its columns are merged into the existing ones (see ``evolved_table_input``;
        ``schema`` is the lake schema ``wanted``'s columns come from).
        Returns ``("created" | "updated" | "unchanged", the TableInput now in the catalog)``.
        Overlapping runs (a backfill runs several at once) race here: a create that finds the table created, or an
        update refused under Glue's VersionId because another run updated it since the read, reads again and merges
        into what the other run wrote (up to ``_UPSERT_ATTEMPTS`` reads).
        """
        client = self.conn
        for attempt in range(1, _UPSERT_ATTEMPTS):
            try:
                return self._upsert_once(database, wanted, schema)
            except (client.exceptions.AlreadyExistsException, client.exceptions.ConcurrentModificationException):
                self.log.info("Glue table %s.%s changed under this run (read %d); reading it again",
                              database, wanted["Name"], attempt)
        return self._upsert_once(database, wanted, schema)

    def _upsert_once(self, database: str, wanted: dict[str, Any],
                     schema: LakeSchema | None) -> tuple[str, dict[str, Any]]:
        existing = self.get_table(database, wanted["Name"])
        if existing is None:
            self.conn.create_table(DatabaseName=database, TableInput=wanted)
            self.log.info("Created Glue table %s.%s at %s", database, wanted["Name"], _location(wanted))
            return "created", wanted
        merged = evolved_table_input(database, existing, wanted, schema)
        if catalog_holds(existing, merged):
            return "unchanged", merged
        self.conn.update_table(DatabaseName=database, TableInput=merged, **_version_of(existing))
        self.log.info("Updated Glue table %s.%s", database, wanted["Name"])
        return "updated", merged

    def switch_table(self, database: str, wanted: dict[str, Any], read: dict[str, Any] | None) -> None:
        """Point the (unpartitioned) table at ``wanted``'s location in ONE catalog call, if it is still as ``read``.

        ``read`` is the GetTable answer the caller decided on (None: the table did not exist). CreateTable when it
        did not exist, else UpdateTable with ``read``'s VersionId; raise :class:`TableChanged` when another writer
        created or updated the table since that read (Glue's optimistic lock), so the caller reads and decides again.
        """
        client = self.conn
        name = f"{database}.{wanted['Name']}"
        try:
            if read is None:
                client.create_table(DatabaseName=database, TableInput=wanted)
            else:
                merged = evolved_table_input(database, read, wanted)
                client.update_table(DatabaseName=database, TableInput=merged, **_version_of(read))
        except client.exceptions.AlreadyExistsException as exc:
            raise TableChanged(f"Glue table {name} was created by another writer since it was read") from exc
        except client.exceptions.ConcurrentModificationException as exc:
            raise TableChanged(
                f"Glue table {name} changed since version {read and read.get('VersionId')} was read"
            ) from exc
        self.log.info("Glue table %s now reads %s", name, _location(wanted))

    # ------------------------------------------------------------------------------------------------ partitions
    def add_partitions(self, database: str, table: str, partitions: list[dict[str, Any]]) -> dict[str, list]:
        """BatchCreatePartition; a partition that exists as wanted is fine, else it is updated to ``partitions``' own.

        A partition at another location is ``moved``; at the same location with other columns (a partition registered
        with the table's types rather than its files'), ``retyped``.
        Returns ``{"created": [values...], "existing": [...], "moved": [...], "retyped": [...]}``.
        """
        outcome: dict[str, list] = {"created": [], "existing": [], "moved": [], "retyped": []}
        by_values = {tuple(p["Values"]): p for p in partitions}
        for start in range(0, len(partitions), _BATCH_PARTITIONS):
            batch = partitions[start : start + _BATCH_PARTITIONS]
            answer = self.conn.batch_create_partition(DatabaseName=database, TableName=table, PartitionInputList=batch)
            failed = {tuple(e["PartitionValues"]): e["ErrorDetail"] for e in answer.get("Errors", [])}
            for partition in batch:
                values = tuple(partition["Values"])
                error = failed.get(values)
                if error is None:
                    outcome["created"].append(list(values))
                elif error.get("ErrorCode") == "AlreadyExistsException":
                    outcome[self._align_partition(database, table, by_values[values])].append(list(values))
                else:
                    raise _partition_error(
                        f"Glue BatchCreatePartition on {database}.{table} failed for partition {list(values)}: "
                        f"{error.get('ErrorCode')}: {error.get('ErrorMessage')}", error
                    )
        return outcome

    def _align_partition(self, database: str, table: str, wanted: dict[str, Any]) -> str:
        """``existing`` when the partition is as wanted, else update it: ``moved`` or ``retyped``."""
        current = self.conn.get_partition(DatabaseName=database, TableName=table, PartitionValues=wanted["Values"])
        descriptor = current["Partition"].get("StorageDescriptor", {})
        location = descriptor.get("Location", "")
        moved = not same_location(location, wanted["StorageDescriptor"]["Location"])
        if not moved and catalog_holds(descriptor.get("Columns"), wanted["StorageDescriptor"]["Columns"]):
            return "existing"
        self.conn.update_partition(
            DatabaseName=database, TableName=table, PartitionValueList=wanted["Values"], PartitionInput=wanted
        )
        if moved:
            self.log.warning("Partition %s of %s.%s moved from %s", wanted["Values"], database, table, location)
            return "moved"
        self.log.warning("Partition %s of %s.%s now has its files' column types", wanted["Values"], database, table)
        return "retyped"

    def partition_location(self, database: str, table: str, values: list[str]) -> str | None:
        """The location of one partition; None when it (or the table) does not exist."""
        client = self.conn
        try:
            partition = client.get_partition(DatabaseName=database, TableName=table, PartitionValues=values)
        except client.exceptions.EntityNotFoundException:
            return None
        return partition["Partition"].get("StorageDescriptor", {}).get("Location")

    def partition_locations(self, database: str, table: str) -> dict[tuple[str, ...], str]:
        """``{partition values: location}`` of every partition of the table; empty when the table does not exist."""
        client = self.conn
        found: dict[tuple[str, ...], str] = {}
        try:
            for page in client.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table):
                for partition in page["Partitions"]:
                    found[tuple(partition["Values"])] = partition.get("StorageDescriptor", {}).get("Location", "")
        except client.exceptions.EntityNotFoundException:
            return {}
        return found

    def delete_partitions(self, database: str, table: str, values: list[list[str]]) -> None:
        """BatchDeletePartition; partitions already gone are fine, any other error raises."""
        for start in range(0, len(values), _BATCH_DELETE):
            batch = [{"Values": v} for v in values[start : start + _BATCH_DELETE]]
            answer = self.conn.batch_delete_partition(DatabaseName=database, TableName=table, PartitionsToDelete=batch)
            for error in answer.get("Errors", []):
                if error["ErrorDetail"].get("ErrorCode") != "EntityNotFoundException":
                    raise _partition_error(
                        f"Glue BatchDeletePartition on {database}.{table} failed for {error['PartitionValues']}: "
                        f"{error['ErrorDetail']}", error["ErrorDetail"]
                    )

    # ------------------------------------------------------------------------------------------------ crawlers
    def get_crawler(self, name: str) -> dict[str, Any] | None:
        client = self.conn
        try:
            return client.get_crawler(Name=name)["Crawler"]
        except client.exceptions.EntityNotFoundException:
            return None

    def create_or_update_crawler(self, wanted: dict[str, Any]) -> str:
        """Create the crawler, or UpdateCrawler only with the keys whose value differs; "created|updated|unchanged"."""
        current = self.get_crawler(wanted["Name"])
        if current is None:
            self.conn.create_crawler(**wanted)
            self.log.info("Created Glue crawler %s", wanted["Name"])
            return "created"
        changes = crawler_changes(current, wanted)
        if not changes:
            return "unchanged"
        self.log.info("Updating Glue crawler %s: %s", wanted["Name"], sorted(changes))
        self.conn.update_crawler(Name=wanted["Name"], **changes)
        return "updated"

    def start_crawler(self, name: str) -> bool:
        """StartCrawler; False (not an error) when a crawl is already running."""
        client = self.conn
        try:
            client.start_crawler(Name=name)
        except client.exceptions.CrawlerRunningException:
            self.log.info("Glue crawler %s is already running", name)
            return False
        self.log.info("Started Glue crawler %s", name)
        return True

    def crawl_report(self, name: str) -> dict[str, Any]:
        crawler = self.get_crawler(name)
        if crawler is None:
            raise NotFoundError(f"Glue crawler {name} does not exist")
        return last_crawl_report(crawler)

    def wait_for_crawler(self, name: str, *, poll_interval: float = 5.0, timeout: float = 3600.0) -> dict[str, Any]:
        """Poll until the crawler is READY; return its LastCrawl report (raise if the crawl failed)."""
        deadline = time.monotonic() + timeout
        while True:
            report = self.crawl_report(name)
            if report["state"] == "READY":
                return check_crawl(report)
            if time.monotonic() > deadline:
                raise TransientError(f"Glue crawler {name} still {report['state']} after {timeout:.0f}s")
            time.sleep(poll_interval)


def _version_of(table: dict[str, Any]) -> dict[str, str]:
    """``{"VersionId": ...}`` of a GetTable answer, for UpdateTable's optimistic lock (empty when Glue gave none)."""
    return {"VersionId": table["VersionId"]} if table.get("VersionId") else {}


def _location(table_input: dict[str, Any]) -> str:
    return table_input["StorageDescriptor"]["Location"]


def _partition_error(message: str, detail: dict[str, Any]) -> Exception:
    """The taxonomy error of one partition's ErrorDetail in a Batch*Partition answer, sorted by its ErrorCode."""
    reason = detail.get("ErrorCode") or ""
    return classify_reason(reason)(message, service="Glue", reason=reason)
