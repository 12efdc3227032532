"""Maintenance of the Iceberg table: compaction every N merges and orphan-file cleanup with a grace period.

Pure rules with exact values, then on the local stack (pyiceberg's Glue catalog on moto, files in moto S3, the
tasks' operators through the Airflow connection): a reader that planned before the compaction and the cleanup reads
its files to the end, the table's values are unchanged by compaction, its watermark stays, and only unreferenced
files older than the grace are removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from conftest import BUCKET, DATABASE

from ddb_lake.core.iceberg.maintenance_rules import DataFileInfo, compaction_due, files_to_compact, orphan_files
from ddb_lake.core.schema.inference import metadata_fields
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.hooks import iceberg_merge as engine
from ddb_lake.hooks.iceberg_maintenance import (
    COMPACTION,
    merges_since_compaction,
    referenced_files,
    remove_orphan_files,
)
from ddb_lake.operators.iceberg_table import IcebergCompactionOperator, IcebergOrphanFilesOperator

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def test_orphans_are_unreferenced_files_older_than_the_grace():
    listed = [("s3://b/t/data/old-orphan", NOW - timedelta(hours=3)), ("s3://b/t/data/young-orphan",
              NOW - timedelta(minutes=30)), ("s3://b/t/data/old-referenced", NOW - timedelta(days=9))]
    assert orphan_files(listed, {"s3://b/t/data/old-referenced"}, now=NOW, grace=timedelta(hours=1)) == [
        "s3://b/t/data/old-orphan"]
    assert orphan_files(listed, set(), now=NOW, grace=timedelta(hours=4)) == ["s3://b/t/data/old-referenced"]


def test_compaction_is_due_every_n_merges_and_picks_small_or_deleted_files():
    assert [compaction_due(n, 3) for n in (0, 2, 3, 7)] == [False, False, True, True]
    assert compaction_due(100, 0) is False
    files = [DataFileInfo("a", 10, 0), DataFileInfo("b", 500, 0), DataFileInfo("c", 20, 0), DataFileInfo("d", 900, 2)]
    assert files_to_compact(files, 100) == ["a", "c", "d"]
    assert files_to_compact([DataFileInfo("a", 10, 0), DataFileInfo("b", 500, 0)], 100) == []  # one small file alone
    assert files_to_compact([DataFileInfo("d", 900, 1)], 100) == ["d"]  # its deletes go away
    assert files_to_compact(files, 100, max_bytes=915) == ["a", "d"]  # deletes first, then the smallest, capped
    assert files_to_compact(files, 100, max_bytes=10) == ["d"]  # at least one file


SCHEMA = LakeSchema((LakeField("pk", "pk", LakeType("string")),
                     LakeField("price", "price", LakeType("decimal", precision=8, scale=2))))
CHANGES = LakeSchema((*metadata_fields(), *SCHEMA.fields))
T0 = datetime(2026, 11, 22, tzinfo=UTC)
WHERE = {"database": DATABASE, "table_name": "books"}


def window(rows: list[tuple[str, str, str | None]], at: datetime) -> pa.Table:
    from decimal import Decimal

    return pa.table({"_ddb_operation": [r[0] for r in rows],
                     "_ddb_write_ts": pa.array([at] * len(rows), pa.timestamp("us", tz="UTC")),
                     "pk": [r[1] for r in rows],
                     "price": pa.array([Decimal(r[2]) if r[2] else None for r in rows], pa.decimal128(8, 2))})


def values(table, snapshot_id=None) -> list[dict]:
    return sorted(table.scan(snapshot_id=snapshot_id).to_arrow().to_pylist(), key=lambda r: r["pk"])


@pytest.mark.integration
def test_compaction_and_orphan_cleanup_keep_values_and_planned_readers(catalog, aws):
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan

    table = engine.create_table(catalog, (DATABASE, "books"), SCHEMA, f"s3://{BUCKET}/lake/iceberg/books", ["pk"])
    base = pa.table({"pk": [f"k{i:03d}" for i in range(200)],
                     "price": pa.array([i * 100 for i in range(200)], pa.decimal128(8, 2)).cast(pa.decimal128(8, 2))})
    engine.bootstrap(table, base, SCHEMA, export_id="full", export_time=T0, key_columns=["pk"])
    start = T0
    for number, rows in enumerate([[("MODIFY", "k001", "1.10"), ("INSERT", "n0", "5.00")],
                                   [("REMOVE", "k002", None), ("MODIFY", "k150", "7.70"), ("INSERT", "n1", "6.00")],
                                   [("REMOVE", "n0", None), ("MODIFY", "k003", "0.30")]]):
        engine.merge_window(table, window(rows, start), CHANGES, export_id=f"w{number}", window_start=start,
                            window_end=start + timedelta(hours=1), key_columns=["pk"])
        start += timedelta(hours=1)
    before, state = values(table), engine.committed_state(table)
    tasks_before = list(table.scan().plan_files())
    assert len(tasks_before) == 4 and sum(len(t.delete_files) for t in tasks_before) >= 1  # small files, deletes
    metadata, planned = table.metadata, list(table.scan().plan_files())  # a reader plans now

    compact = IcebergCompactionOperator(task_id="compact", every_runs=4, small_file_mb=32, **WHERE)
    assert compact.execute({})["files_in"] == 0  # 3 merges since the bootstrap: not due at every 4
    result = IcebergCompactionOperator(task_id="compact", every_runs=3, small_file_mb=32, **WHERE).execute({})
    assert (result["files_in"], result["files_out"], result["merges_since"]) == (4, 1, 3)
    table.refresh()
    after_tasks = list(table.scan().plan_files())
    assert len(after_tasks) == 1 and not after_tasks[0].delete_files
    assert values(table) == before and len(before) == 200  # +2 inserted, -2 deleted
    assert engine.committed_state(table) == state  # the watermark stays on the current snapshot
    assert table.current_snapshot().summary.additional_properties[COMPACTION] == "4 -> 1"
    assert merges_since_compaction(table) == 0

    orphan = "lake/iceberg/books/data/00000-0-crashed-merge.parquet"
    aws.s3.put_object(Bucket=BUCKET, Key=orphan, Body=b"PAR1 left by a crashed merge")
    cleanup = IcebergOrphanFilesOperator(task_id="remove_orphans", grace_period=timedelta(hours=1), **WHERE)
    first = cleanup.execute({})
    assert first["removed"] == 0 and first["listed"] >= 6 and exists(aws, orphan)  # younger than the grace: kept
    listed = cleanup.hook.list_files(f"{table.location()}/data/")  # the task's listing, judged two hours later
    later = remove_orphan_files(table, listed, now=datetime.now(UTC) + timedelta(hours=2),
                                grace=timedelta(hours=1), delete=table.io.delete)
    assert later["removed"] == [f"s3://{BUCKET}/{orphan}"] and not exists(aws, orphan)
    replaced = {t.file.file_path for t in tasks_before} - {t.file.file_path for t in after_tasks}
    assert replaced and replaced <= referenced_files(table)  # older snapshots still name them: never orphans
    assert all(exists(aws, url.split("/", 3)[3]) for url in replaced)

    read = ArrowScan(metadata, table.io, metadata.schema(), AlwaysTrue()).to_table(planned).to_pylist()
    assert sorted(read, key=lambda r: r["pk"]) == before  # the reader that planned before finishes on its files


def exists(aws, key: str) -> bool:
    return aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount", 0) > 0
