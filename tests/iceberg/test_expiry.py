"""Snapshot expiry with a grace period: the pure rule, then on pyiceberg's Glue catalog (moto) with files in moto S3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from conftest import BUCKET, DATABASE

from ddb_lake.core.iceberg.expiry import SnapshotLife, expirable, snapshot_lives, unreachable_files
from ddb_lake.core.schema.inference import metadata_fields
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.hooks import iceberg_merge as engine
from ddb_lake.hooks.iceberg_maintenance import expire_snapshots

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
MS = int(NOW.timestamp() * 1000)
HOUR_MS = 3_600_000


def test_lives_follow_the_snapshot_log_including_a_rollback():
    lives = snapshot_lives([(1, 0), (2, 10), (3, 20)], [(1, 0), (2, 10), (3, 20), (2, 30)], current_id=2)
    assert lives == [SnapshotLife(1, 0, 10), SnapshotLife(2, 10, None), SnapshotLife(3, 20, 30)]


def test_only_snapshots_superseded_before_the_grace_go_and_never_the_newest_or_protected():
    lives = [SnapshotLife(1, MS - 5 * HOUR_MS, MS - 4 * HOUR_MS), SnapshotLife(2, MS - 4 * HOUR_MS, MS - 2 * HOUR_MS),
             SnapshotLife(3, MS - 2 * HOUR_MS, MS - 30 * 60_000), SnapshotLife(4, MS - 30 * 60_000, None)]
    assert expirable(lives, now=NOW, grace=timedelta(hours=1), keep_last=1) == [1, 2]
    assert expirable(lives, now=NOW, grace=timedelta(hours=3), keep_last=1) == [1]
    assert expirable(lives, now=NOW, grace=timedelta(hours=1), keep_last=3) == [1]
    assert expirable(lives, now=NOW, grace=timedelta(hours=1), keep_last=1, protected=[2]) == [1]


def test_unreachable_files_are_those_no_kept_snapshot_references():
    assert unreachable_files({1: {"a", "b"}, 2: {"b", "c"}}, {3: {"c", "d"}}) == {"a", "b"}


SCHEMA = LakeSchema((LakeField("pk", "pk", LakeType("string")), LakeField("v", "v", LakeType("int64"))))
CHANGES = LakeSchema((*metadata_fields(), *SCHEMA.fields))


def changes(rows: list[tuple[str, str, int | None]], at: datetime) -> pa.Table:
    return pa.table({"_ddb_operation": [r[0] for r in rows],
                     "_ddb_write_ts": pa.array([at] * len(rows), pa.timestamp("us", tz="UTC")),
                     "pk": [r[1] for r in rows], "v": pa.array([r[2] for r in rows], pa.int64())})


@pytest.mark.integration
def test_expiry_keeps_files_inside_the_grace_and_deletes_only_unreachable_ones(catalog, aws):
    table = engine.create_table(catalog, (DATABASE, "t"), SCHEMA, f"s3://{BUCKET}/lake/iceberg/t", ["pk"],
                                delete_mode="copy-on-write")  # merges replace files: expiry has some to delete
    t0 = datetime(2026, 11, 22, tzinfo=UTC)
    engine.bootstrap(table, pa.table({"pk": ["a", "b"], "v": pa.array([1, 2], pa.int64())}), SCHEMA,
                     export_id="full", export_time=t0, key_columns=["pk"])
    files = {"first": engine_files(table)}
    for number, rows in enumerate([[("MODIFY", "a", 10)], [("REMOVE", "b", None), ("INSERT", "c", 3)]]):
        start = t0 + timedelta(hours=number)
        engine.merge_window(table, changes(rows, start), CHANGES, export_id=f"w{number}", window_start=start,
                            window_end=start + timedelta(hours=1), key_columns=["pk"])
    current = engine_files(table)
    now = datetime.now(UTC)

    inside = expire_snapshots(table, now=now, grace=timedelta(hours=1), keep_last=1)
    assert inside["expired"] == [] and all(exists(aws, f) for f in files["first"])

    later = expire_snapshots(table, now=now + timedelta(hours=2), grace=timedelta(hours=1), keep_last=1)
    table.refresh()
    assert len(later["expired"]) == 2 and len(table.metadata.snapshots) == 1
    assert files["first"] - current and not any(exists(aws, f) for f in files["first"] - current)
    assert later["deleted_files"] == len(files["first"] - current) + 1  # and the file window 0 added
    assert all(exists(aws, f) for f in current)
    assert sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["pk"]) == [
        {"pk": "a", "v": 10}, {"pk": "c", "v": 3}]


def engine_files(table) -> set[str]:
    return {task.file.file_path for task in table.scan().plan_files()}


def exists(aws, url: str) -> bool:
    bucket, key = url.removeprefix("s3://").split("/", 1)
    return aws.s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) > 0


@pytest.mark.integration
def test_a_query_planned_before_a_merge_reads_its_files_until_the_grace_ends(catalog, aws):
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan

    table = engine.create_table(catalog, (DATABASE, "r"), SCHEMA, f"s3://{BUCKET}/lake/iceberg/r", ["pk"],
                                delete_mode="copy-on-write")
    t0 = datetime(2026, 11, 22, tzinfo=UTC)
    engine.bootstrap(table, pa.table({"pk": ["a", "b"], "v": pa.array([1, 2], pa.int64())}), SCHEMA,
                     export_id="full", export_time=t0, key_columns=["pk"])
    metadata, planned = table.metadata, list(table.scan().plan_files())  # a reader plans on the bootstrap

    engine.merge_window(table, changes([("REMOVE", "a", None), ("MODIFY", "b", 20)], t0), CHANGES, export_id="w0",
                        window_start=t0, window_end=t0 + timedelta(hours=1), key_columns=["pk"])
    now = datetime.now(UTC)
    expire_snapshots(table, now=now, grace=timedelta(hours=1), keep_last=1)

    def read_planned() -> list[dict]:
        return ArrowScan(metadata, table.io, metadata.schema(), AlwaysTrue()).to_table(planned).to_pylist()

    assert sorted(read_planned(), key=lambda r: r["pk"]) == [{"pk": "a", "v": 1}, {"pk": "b", "v": 2}]
    expire_snapshots(table, now=now + timedelta(hours=2), grace=timedelta(hours=1), keep_last=1)
    with pytest.raises(FileNotFoundError):  # after the grace the replaced file is gone: the grace is what protects
        read_planned()
